"""Diffusion–sorption residual: closed-form derivatives, and the FV reference nearly solves it."""

from __future__ import annotations

import pytest
import torch

from sciml.constraints.hard import (
    DiffusionSorptionResidual,
    HardPDEConstraint,
    NavierStokesVorticityResidual,
)
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


def _taylor_green(n_t: int = 21, n: int = 16, nu: float = 1e-2) -> torch.Tensor:
    """(1, 1, T, X, Y) decaying Taylor–Green vorticity on [0, 1)² with k = 2π, t ∈ [0, 1]."""
    from sciml.solvers.exact import taylor_green_vorticity

    x = torch.arange(n, dtype=DT) / n
    t = torch.linspace(0, 1, n_t, dtype=DT)
    tt, xx, yy = torch.meshgrid(t, x, x, indexing="ij")
    return taylor_green_vorticity(xx, yy, tt, nu, k=2 * torch.pi)[None, None]


def test_taylor_green_vortex_solves_the_vorticity_residual() -> None:
    pde = NavierStokesVorticityResidual(nu=1e-2, t_end=1.0)
    w = _taylor_green()
    batch = {"x": w[:, 0, 0]}
    residual = pde.grid_residual(w, batch)[:, 1:-1]  # one-sided (first-order) at the ends
    skewed = pde.grid_residual(w + 0.3 * w.roll(3, dims=-1) * w, batch)[:, 1:-1]
    assert residual.abs().max() < 1e-3 * w.abs().max()  # the time difference only
    assert skewed.abs().max() > 100 * residual.abs().max()
    assert pde.condition_residual(w, batch).abs().max() == 0


def test_ns_pointwise_derivative_matches_autograd() -> None:
    pde = NavierStokesVorticityResidual(residual_scale=2.0)
    q = torch.randn(40, 7, generator=torch.Generator().manual_seed(0), dtype=DT)
    q.requires_grad_(True)
    r, dr = pde.pointwise(q)
    (auto,) = torch.autograd.grad(r.sum(), q)
    torch.testing.assert_close(dr, auto, rtol=1e-12, atol=1e-14)


def test_hard_constraint_recovers_taylor_green_from_a_basis_that_spans_it() -> None:
    w = _taylor_green()
    gen = torch.Generator().manual_seed(0)
    basis = torch.cat([w, 0.3 * torch.randn(1, 2, *w.shape[2:], generator=gen, dtype=DT)], 1)
    layer = HardPDEConstraint(
        "navier_stokes2d", n_basis=3, n_points=500, experts=(1, 2, 2), init=0.0,
        pde_options={"nu": 1e-2, "t_end": 1.0}, rtol=1e-10, atol=1e-12,
    )  # fmt: skip
    u = layer(basis, {"x": w[:, 0, 0]})
    assert layer.last_result.converged.all() and layer.last_result.solution.shape == (4, 3)
    assert (u - w).abs().max() < 1e-3 * w.abs().max()


def test_smoothed_retardation_is_smooth_and_matches_the_physics_away_from_zero() -> None:
    smooth = DiffusionSorptionResidual(smoothing=0.01)
    exact = DiffusionSorptionResidual()
    gen = torch.Generator().manual_seed(1)
    # across u = 0, where the physics' R has a kink and R' is singular
    q = (torch.rand(40, 3, generator=gen, dtype=DT) - 0.5) * torch.tensor(
        [0.1, 2e-3, 5.0], dtype=DT
    )
    q.requires_grad_(True)
    r, dr = smooth.pointwise(q)
    (auto,) = torch.autograd.grad(r.sum(), q)
    torch.testing.assert_close(dr, auto, rtol=1e-10, atol=1e-14)
    assert torch.autograd.gradcheck(lambda x: smooth.pointwise(x)[0], (q,))
    # R_delta and R' are continuous at 0; the physics' R' jumps there
    u = torch.tensor([-1e-9, 1e-9], dtype=DT)
    r_s, slope_s = smooth.retardation(u)
    assert (r_s[1] - r_s[0]).abs() < 1e-6 and (slope_s[1] - slope_s[0]).abs() < 1e-5
    _, slope_e = exact.retardation(u)
    assert (slope_e[1] - slope_e[0]).abs() > 1e3
    # for u >> delta the smoothed law is the physics' to O(exp(-u/delta))
    u = torch.tensor([0.1, 0.5, 1.0], dtype=DT)
    torch.testing.assert_close(smooth.retardation(u)[0], exact.retardation(u)[0], rtol=1e-5, atol=0)


def test_negative_smoothing_is_refused() -> None:
    with pytest.raises(ValueError, match="smoothing must be >= 0, got -0.1"):
        DiffusionSorptionResidual(smoothing=-0.1)


def test_broken_residual_does_not_differentiate_across_expert_blocks() -> None:
    # u linear in x with a different slope and offset on each of 4 blocks: u_t = u_xx = 0 inside
    # each block, so the broken residual vanishes; the whole-grid one sees the jumps
    x = (torch.arange(16, dtype=DT) + 0.5) / 16
    block = torch.arange(16) * 4 // 16
    u = (0.2 + 0.1 * block + (0.5 + block) * x).expand(2, 1, 6, 16).contiguous()
    batch = {"x": u[:, 0, 0]}
    broken = DiffusionSorptionResidual(broken_experts=[1, 4]).grid_residual(u, batch)
    whole = DiffusionSorptionResidual().grid_residual(u, batch)
    assert broken.abs().max() < 1e-12
    assert whole.abs().amax(dim=(0, 1))[[3, 4, 7, 8, 11, 12]].min() > 1e-3
    with pytest.raises(ValueError, match=r"broken_experts must be two positive integers"):
        DiffusionSorptionResidual(broken_experts=[4])
