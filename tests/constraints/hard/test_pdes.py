"""Diffusion–sorption residual: closed-form derivatives, and the FV reference nearly solves it."""

from __future__ import annotations

import pytest
import torch

from sciml.constraints.hard import DiffusionSorptionResidual
from sciml.solvers.fv import DiffusionSorptionFV

DT = torch.float64


def test_pointwise_derivative_matches_autograd() -> None:
    pde = DiffusionSorptionResidual(residual_scale=3.0)
    gen = torch.Generator().manual_seed(0)
    q = torch.rand(50, 3, generator=gen, dtype=DT) * torch.tensor([1.0, 1e-3, 5.0], dtype=DT)
    q.requires_grad_(True)
    r, dr = pde.pointwise(q)
    (auto,) = torch.autograd.grad(r.sum(), q)
    torch.testing.assert_close(dr, auto, rtol=1e-12, atol=1e-15)


def test_fv_reference_has_a_small_residual_and_a_perturbed_field_does_not() -> None:
    n_x, n_t = 64, 11
    gen = torch.Generator().manual_seed(0)
    u0 = 0.2 + 0.05 * torch.rand(2, n_x, generator=gen, dtype=DT)
    u0 = u0 + 0.1 * torch.sin(torch.linspace(0, 3.14, n_x, dtype=DT))
    traj = DiffusionSorptionFV(n_x).rollout(u0, 50, dt=10.0, save_every=5)  # (B, 11, X)
    u = traj.unsqueeze(1)
    pde = DiffusionSorptionResidual(t_end=500.0)
    batch = {"x": u0}
    residual = pde.grid_residual(u, batch)
    assert residual.shape == (2, n_t, n_x)
    bump = 0.2 * torch.sin(3.14 * torch.linspace(0, 1, n_t, dtype=DT))[:, None]
    perturbed = pde.grid_residual(u + bump * torch.ones(n_x, dtype=DT), batch)
    interior = (slice(None), slice(1, -1), slice(2, -2))  # one-sided differences at the ends
    assert residual[interior].abs().mean() < 0.1 * perturbed[interior].abs().mean()
    conditions = pde.condition_residual(u, batch)
    assert conditions[:, :n_x].abs().max() == 0  # the initial rows hold exactly
    # ends by extrapolation from the centres; at t = 0 the data break both (u0 < 1 and not outflow-shaped)
    left, right = conditions[:, n_x : n_x + n_t], conditions[:, n_x + n_t :]
    assert left[:, 0].abs().min() > 0.5
    assert left[:, 1:].abs().max() < 0.05 and right[:, 1:].abs().max() < 0.05


def test_bad_grid_and_missing_initial_condition_are_refused() -> None:
    pde = DiffusionSorptionResidual()
    with pytest.raises(ValueError, match=r"needs T >= 2 and X >= 3 grid points, got \(1, 8\)"):
        pde.grid((1, 8), {})
    with pytest.raises(KeyError, match="the batch has no 'x'"):
        pde.initial_condition({"u0": torch.zeros(1, 4)})
    with pytest.raises(ValueError, match="residual_scale must be > 0"):
        DiffusionSorptionResidual(residual_scale=0.0)
