"""Time-conditioned LayerNorm: at a fixed lead time it is an affine LayerNorm with γ(t), β(t)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.scot.norm import ConditionalLayerNorm, PlainLayerNorm, make_norm


def _randomized(dim: int) -> ConditionalLayerNorm:
    torch.manual_seed(0)
    norm = ConditionalLayerNorm(dim)
    for p in norm.parameters():
        nn.init.normal_(p)
    return norm


def test_condln_at_a_fixed_lead_time_equals_an_affine_layernorm() -> None:
    norm = _randomized(6)
    x = torch.randn(3, 5, 4, 6)
    t = 0.37
    gamma = norm.weight.weight[:, 0] * t + norm.weight.bias
    beta = norm.bias.weight[:, 0] * t + norm.bias.bias
    expected = F.layer_norm(x, (6,), gamma, beta, eps=1e-5)
    out = norm(x, torch.full((3,), t))
    torch.testing.assert_close(out, expected)
    affine = norm.at(t)
    assert isinstance(affine, nn.LayerNorm)
    torch.testing.assert_close(affine(x), expected)


def test_condln_uses_each_samples_own_lead_time() -> None:
    norm = _randomized(4)
    x = torch.randn(3, 7, 4)
    t = torch.tensor([0.0, 0.5, 1.0])
    out = norm(x, t)
    for b in range(3):
        torch.testing.assert_close(out[b], norm.at(float(t[b]))(x[b]))
    assert not torch.allclose(out[0], norm.at(1.0)(x[0]))


def test_condln_is_linear_in_t_for_fixed_x() -> None:
    norm = _randomized(5)
    x = torch.randn(1, 3, 5).expand(3, 3, 5)
    out = norm(x, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(out[1], 0.5 * (out[0] + out[2]))


def test_plain_norm_ignores_t_and_make_norm_picks_the_kind() -> None:
    plain = make_norm(4, conditioned=False)
    assert isinstance(plain, PlainLayerNorm)
    assert isinstance(make_norm(4, conditioned=True), ConditionalLayerNorm)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(plain(x, torch.zeros(2)), plain(x, torch.ones(2)))
    torch.testing.assert_close(plain(x), F.layer_norm(x, (4,), plain.weight, plain.bias))
