"""Gaussian ensemble wrapper: mixture moments, positivity, any registered base model, bad options."""

from __future__ import annotations

import pytest
import torch

from sciml.models.outputs import GaussianOutput
from sciml.registry import MODELS

FNO = {"n_modes": 4, "hidden_channels": 8, "n_layers": 2}


def _ensemble(**options: object) -> torch.nn.Module:
    config = {"base": "fno", "base_options": FNO, "n_members": 3, **options}
    return MODELS.get("gaussian_ensemble")(in_channels=2, out_channels=1, n_dims=1, **config)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mixture_mean_and_variance_of_the_members(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = _ensemble().to(dtype)
    x = torch.randn(4, 2, 32, dtype=dtype)
    out = model(x)
    parts = model.member_outputs(x)
    assert isinstance(out, GaussianOutput) and out.mean.shape == (4, 1, 32)
    means = torch.stack([p.mean for p in parts])
    variances = torch.stack([p.var for p in parts])
    torch.testing.assert_close(out.mean, means.mean(0))
    torch.testing.assert_close(out.var, variances.mean(0) + means.var(0, unbiased=False))
    assert (out.var >= variances.min(0).values * (1 - 1e-6)).all()


def test_without_a_head_the_variance_is_the_member_spread() -> None:
    torch.manual_seed(1)
    model = _ensemble(gaussian_head=False, min_var=1e-8).double()
    x = torch.randn(2, 2, 16, dtype=torch.float64)
    means = torch.stack([m(x) for m in model.members])
    out = model(x)
    torch.testing.assert_close(out.var, means.var(0, unbiased=False) + 1e-8)


def test_wraps_a_deeponet_with_its_coordinate_input() -> None:
    torch.manual_seed(2)
    options = {"branch_layers": [16, 8], "trunk_layers": [16, 8], "n_sensors": 20}
    model = MODELS.get("gaussian_ensemble")(
        in_channels=1, out_channels=1, n_dims=1, base="deeponet", base_options=options, n_members=2
    )
    assert model.input_keys == ("x", "coords")
    out = model(torch.randn(3, 1, 20), torch.rand(3, 1, 20))
    assert out.mean.shape == out.var.shape and (out.var > 0).all()


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="n_members must be a positive integer, got 0"):
        _ensemble(n_members=0)
    with pytest.raises(ValueError, match="needs n_members >= 2"):
        _ensemble(gaussian_head=False, n_members=1)
    with pytest.raises(ValueError, match=r"may not set data keys \['in_channels'\]"):
        _ensemble(base_options={**FNO, "in_channels": 3})
    with pytest.raises(KeyError, match="unknown model 'fn0'"):
        _ensemble(base="fn0")
