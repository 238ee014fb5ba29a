"""Finite-volume diffusion–sorption: convergence orders against manufactured solutions."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.fv import DiffusionSorptionFV, ImplicitSolveError, SorptionParameters
from sciml.testing import assert_convergence_order

P = SorptionParameters()
T = 100.0


def _space_case(x: torch.Tensor, t: float) -> tuple[torch.Tensor, ...]:
    """u = 0.5 + 0.3 cos(πx) + 0.2 x t/T (linear in t: backward Euler has no time error)."""
    u = 0.5 + 0.3 * torch.cos(math.pi * x) + 0.2 * x * t / T
    ux = -0.3 * math.pi * torch.sin(math.pi * x) + 0.2 * t / T
    uxx = -0.3 * math.pi**2 * torch.cos(math.pi * x)
    ut = 0.2 * x / T
    return u, ux, uxx, ut


def _time_case(x: torch.Tensor, t: float) -> tuple[torch.Tensor, ...]:
    """u = 0.2 + 0.6 x e^{-t/τ}, τ = T/2 (linear in x: the finite volumes have no space error)."""
    e = math.exp(-2 * t / T)
    u = 0.2 + 0.6 * x * e
    return u, 0.6 * e + 0 * x, 0 * x, -1.2 / T * x * e


def _solver(case, n: int) -> DiffusionSorptionFV:
    def source(x: torch.Tensor, t: float) -> torch.Tensor:
        u, _, uxx, ut = case(x, t)
        return ut - P.diffusion / P.retardation(u) * uxx

    def right(t: float) -> float:
        u, ux, _, _ = case(torch.ones(1, dtype=torch.float64), t)
        return float(u + P.diffusion * ux)

    def left(t: float) -> float:
        return float(case(torch.zeros(1, dtype=torch.float64), t)[0])

    return DiffusionSorptionFV(n, left=left, right=right, source=source)


def _error(case, n: int, n_steps: int) -> float:
    solver = _solver(case, n)
    u0 = case(solver.x, 0.0)[0].unsqueeze(0)
    out = solver.rollout(u0, n_steps, dt=T / n_steps, save_every=n_steps)
    return float((out[0, -1] - case(solver.x, T)[0]).abs().max())


def test_space_discretisation_is_second_order() -> None:
    ns = [16, 32, 64, 128]
    errors = [_error(_space_case, n, 2) for n in ns]
    assert_convergence_order([1 / n for n in ns], errors, expected=2.0, tol=0.1)


def test_backward_euler_is_first_order_in_time() -> None:
    steps = [4, 8, 16, 32]
    errors = [_error(_time_case, 8, k) for k in steps]
    assert errors[-1] < 0.02
    assert_convergence_order([T / k for k in steps], errors, expected=1.0, tol=0.1)


def test_pdebench_setting_stays_in_zero_one_and_fills_from_the_left() -> None:
    """u(0,t)=1 feeds the column; the maximum principle keeps 0 <= u <= 1 for U(0, 0.2) data."""
    gen = torch.Generator().manual_seed(0)
    u0 = 0.2 * torch.rand(3, 64, generator=gen, dtype=torch.float64)
    out = DiffusionSorptionFV(64).rollout(u0, 10, dt=50.0, save_every=5)
    assert out.shape == (3, 3, 64)
    assert out.min() >= 0 and out.max() <= 1
    assert (out[:, -1, 0] > 0.9).all()  # the first cell approaches the inflow value
    assert (out[:, -1, :4].mean(-1) > out[:, 0, :4].mean(-1)).all()


def test_retardation_matches_the_pdebench_formula() -> None:
    u = torch.tensor([0.0, 0.1, 1.0], dtype=torch.float64)
    expected = 1 + (0.71 / 0.29) * 2880 * 3.5e-4 * 0.874 * (u + 1e-6) ** (0.874 - 1)
    torch.testing.assert_close(P.retardation(u), expected)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="n_cells must be an integer >= 2, got 1"):
        DiffusionSorptionFV(1)
    with pytest.raises(ValueError, match=r"porosity must be in \(0, 1\), got 1.5"):
        SorptionParameters(porosity=1.5)
    with pytest.raises(ValueError, match=r"u0 must have shape \(B, 8\)"):
        DiffusionSorptionFV(8).rollout(torch.zeros(1, 9), 1, dt=1.0)


def test_an_iteration_that_cannot_converge_raises() -> None:
    solver = DiffusionSorptionFV(16, picard_max_iter=1, picard_tol=0.0)
    with pytest.raises(ImplicitSolveError, match="did not converge in 1 iterations"):
        solver.step(torch.full((1, 16), 0.1, dtype=torch.float64), 10.0)


def test_float32_run_agrees_with_float64() -> None:
    gen = torch.Generator().manual_seed(1)
    u0 = 0.2 * torch.rand(2, 32, generator=gen, dtype=torch.float64)
    ref = DiffusionSorptionFV(32).rollout(u0, 4, dt=25.0)
    single = DiffusionSorptionFV(32, dtype=torch.float32, picard_tol=1e-6).rollout(u0, 4, dt=25.0)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), ref, atol=1e-5, rtol=0)
