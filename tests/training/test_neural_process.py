"""The neural_process_elbo loss: the ANP's negative ELBO in training, the predictive NLL in evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.models.anp import ELBOOutput
from sciml.models.outputs import GaussianOutput
from sciml.registry import LOSSES, MODELS


def _data(gen: torch.Generator):
    cx, tx = torch.rand(3, 6, 2, generator=gen), torch.rand(3, 8, 2, generator=gen)
    return cx, torch.sin(4 * cx[..., :1]), tx, torch.sin(4 * tx[..., :1])


def test_training_value_is_the_models_negative_elbo_per_target_point():
    gen = torch.Generator().manual_seed(0)
    model = MODELS.get("anp")(hidden=16, latent=8, n_heads=2, dropout=0.0)
    cx, cy, tx, ty = _data(gen)
    torch.manual_seed(5)
    parts = model.elbo(cx, cy, tx, ty)
    torch.manual_seed(5)
    expected = model.loss(cx, cy, tx, ty)
    value = LOSSES.get("neural_process_elbo")()(parts, {"y": ty})
    torch.testing.assert_close(value, expected.loss)
    # by hand: (-sum log N(y | mu, sigma) + KL) / N_t, batch mean
    nll = 0.5 * ((ty - parts.mean) ** 2 / parts.var + parts.var.log() + math.log(2 * math.pi))
    torch.testing.assert_close(value, ((nll.sum(dim=(1, 2)) + parts.kl) / 8).mean())
    value.backward()  # differentiable in the model's parameters
    assert model.latent_mean.weight.grad is not None


def test_evaluation_value_is_the_predictive_gaussian_nll_per_point():
    mean, var, y = torch.zeros(2, 4, 1), torch.full((2, 4, 1), 0.25), torch.full((2, 4, 1), 0.5)
    value = LOSSES.get("neural_process_elbo")()(GaussianOutput(mean, var), {"y": y})
    expected = 0.5 * (0.25 / 0.25 + math.log(0.25) + math.log(2 * math.pi))
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_a_plain_tensor_or_a_shape_mismatch_is_a_clear_error():
    loss = LOSSES.get("neural_process_elbo")()
    with pytest.raises(ValueError, match="needs a neural process's output"):
        loss(torch.zeros(2, 4, 1), {"y": torch.zeros(2, 4, 1)})
    with pytest.raises(ValueError, match=r"prediction \(2, 4, 1\) != target \(2, 5, 1\)"):
        loss(GaussianOutput(torch.zeros(2, 4, 1), torch.ones(2, 4, 1)), {"y": torch.zeros(2, 5, 1)})
    parts = ELBOOutput(torch.zeros(2, 4, 1), torch.ones(2, 4, 1), torch.zeros(2))
    with pytest.raises(ValueError, match=r"target_y \(2, 5, 1\) does not match"):
        loss(parts, {"y": torch.zeros(2, 5, 1)})
