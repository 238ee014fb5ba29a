"""Attentive neural process: shapes, context-permutation invariance, moment matching, ELBO, training."""

from __future__ import annotations

import pytest
import torch

from sciml.models.anp import ANP
from sciml.models.outputs import GaussianOutput
from sciml.registry import MODELS


def _small(**options: object) -> ANP:
    config = {"hidden": 16, "latent": 8, "n_heads": 2, **options}
    return MODELS.get("anp")(**config)


def _points(b: int, n: int, gen: torch.Generator, dtype: torch.dtype = torch.float32):
    x = torch.rand(b, n, 2, generator=gen, dtype=dtype)
    return x, torch.sin(3 * x[..., :1]) * x[..., 1:]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_predicts_a_positive_gaussian_at_every_target_point(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    model = _small().to(dtype).eval()
    cx, cy = _points(3, 10, gen, dtype)
    tx, _ = _points(3, 25, gen, dtype)
    out = model(cx, cy, tx, n_samples=4)
    assert isinstance(out, GaussianOutput)
    assert out.mean.shape == out.var.shape == (3, 25, 1)
    assert out.mean.dtype == dtype and (out.var > 0).all()


def test_prediction_is_invariant_to_the_order_of_the_context_points() -> None:
    gen = torch.Generator().manual_seed(1)
    model = _small().double().eval()
    cx, cy = _points(2, 12, gen, torch.float64)
    tx, _ = _points(2, 7, gen, torch.float64)
    perm = torch.randperm(12, generator=gen)
    a = model(cx, cy, tx, generator=torch.Generator().manual_seed(5))
    b = model(cx[:, perm], cy[:, perm], tx, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a.mean, b.mean)
    torch.testing.assert_close(a.var, b.var)


def test_predictive_variance_is_the_mixture_of_the_latent_draws() -> None:
    # var = mean_s σ_s² + var_s μ_s over the same latent draws
    gen = torch.Generator().manual_seed(2)
    model = _small().double().eval()
    cx, cy = _points(2, 10, gen, torch.float64)
    tx, _ = _points(2, 6, gen, torch.float64)
    out = model(cx, cy, tx, n_samples=5, generator=torch.Generator().manual_seed(3))
    mu_z, logvar_z = model.latent_distribution(cx, cy)
    r = model.representation(cx, cy, tx)
    draw = torch.Generator().manual_seed(3)
    mus, sigmas = zip(
        *(
            model.decode(
                r,
                mu_z
                + (0.5 * logvar_z).exp()
                * torch.randn(mu_z.shape, generator=draw, dtype=torch.float64),
                tx,
            )
            for _ in range(5)
        )
    )
    mus, sigmas = torch.stack(mus), torch.stack(sigmas)
    torch.testing.assert_close(out.mean, mus.mean(0))
    torch.testing.assert_close(out.var, sigmas.square().mean(0) + mus.var(0, unbiased=False))


def test_kl_vanishes_when_the_targets_are_the_context() -> None:
    gen = torch.Generator().manual_seed(3)
    model = _small().eval()
    x, y = _points(4, 9, gen)
    with torch.no_grad():
        parts = model.loss(x, y, x, y)
    assert abs(float(parts.kl)) < 1e-6
    torch.testing.assert_close(parts.loss, parts.nll + parts.kl)


def test_a_few_adam_steps_lower_the_negative_elbo() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4)
    model = _small(dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cx, cy = _points(8, 10, gen)
    tx, ty = _points(8, 20, gen)
    first = model.loss(cx, cy, tx, ty).loss.item()
    for _ in range(40):
        opt.zero_grad()
        model.loss(cx, cy, tx, ty).loss.backward()
        opt.step()
    assert model.loss(cx, cy, tx, ty).loss.item() < first - 0.5


def test_bad_shapes_and_options_are_clear_errors() -> None:
    model = _small()
    x = torch.rand(2, 5, 2)
    with pytest.raises(ValueError, match=r"context_x must be \(B, N, 2\), got \(2, 5, 3\)"):
        model(torch.rand(2, 5, 3), torch.rand(2, 5, 1), x)
    with pytest.raises(ValueError, match=r"context_y must be \(B, N, 1\)"):
        model(x, torch.rand(2, 4, 1), x)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        _small(hidden=10, n_heads=4)
    with pytest.raises(TypeError, match="unknown anp option"):
        MODELS.get("anp")(hiden=8)


def test_the_constructors_n_samples_is_the_default_number_of_latent_draws() -> None:
    gen = torch.Generator().manual_seed(6)
    x, y = _points(2, 7, gen)
    model = _small(n_samples=5).eval()
    with torch.no_grad():
        default = model(x, y, x, generator=torch.Generator().manual_seed(1))
        explicit = model(x, y, x, n_samples=5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(default.var, explicit.var)
    with pytest.raises(ValueError, match="n_samples must be a positive integer, got 0"):
        _small(n_samples=0)
