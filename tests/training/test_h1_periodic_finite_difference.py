"""``h1`` with ``derivative: finite_difference`` on a periodic grid (neuraloperator's H1Loss)."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.norms import h1_squared_norm
from sciml.training.loss_terms import build_loss
from sciml.training.losses import H1Loss


def test_equals_neuraloperators_h1_loss_on_random_fields() -> None:
    from neuralop import H1Loss as NeuralopH1

    g = torch.Generator().manual_seed(0)
    pred = torch.randn(5, 1, 16, 16, generator=g, dtype=torch.float64)
    y = torch.randn(5, 1, 16, 16, generator=g, dtype=torch.float64)
    ours = H1Loss(derivative="finite_difference", reduction="sum")(pred, y)
    theirs = NeuralopH1(d=2)(pred, y)  # periodic finite differences, summed over the batch
    torch.testing.assert_close(ours, theirs.to(ours.dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_central_differences_converge_to_the_exact_norm_at_second_order(dtype) -> None:
    # v = sin(2πx) cos(4πy) on [0, 1)²: ‖v‖² = 1/4 (1 + 4π² + 16π²); FD error ∝ h²
    exact = 0.25 * (1 + 20 * math.pi**2)
    errors = []
    for n in (16, 32, 64):
        x = torch.arange(n, dtype=torch.float64) / n
        v = (torch.sin(2 * math.pi * x)[:, None] * torch.cos(4 * math.pi * x)[None, :]).to(dtype)
        norm = h1_squared_norm(
            v[None, None], [1.0, 1.0], periodic=True, derivative="finite_difference"
        )
        errors.append(abs(float(norm) - exact))
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(1.9 < p < 2.1 for p in orders), orders
    spectral = h1_squared_norm(v[None, None], [1.0, 1.0], periodic=True)
    rel = 1e-12 if dtype == torch.float64 else 1e-6
    assert float(spectral) == pytest.approx(exact, rel=rel)  # band-limited: exact


def test_bad_derivative_options_name_the_option_and_the_allowed_values() -> None:
    with pytest.raises(
        ValueError, match=r"derivative='fd' is not one of \['spectral', 'finite_difference'\]"
    ):
        build_loss({"name": "h1", "derivative": "fd"})
    with pytest.raises(ValueError, match="derivative='spectral' needs periodic=true"):
        build_loss({"name": "h1", "periodic": False, "derivative": "spectral"})
    loss = build_loss({"name": "h1", "periodic": False, "derivative": "finite_difference"})
    assert loss(torch.ones(1, 1, 4, 4), {"y": torch.ones(1, 1, 4, 4)}) == 0
