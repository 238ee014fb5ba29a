"""Burgers between walls: Cole–Hopf on [0, π] (Dirichlet), the Basdevant et al. (1986) shock
slope, measured orders in space and time, gradients, batching and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.solvers.exact import burgers_cole_hopf
from sciml.solvers.spectral import BoundedBurgers, BoundedGrid, SpectralSolver, evaluate

#: Basdevant et al., Mon. Weather Rev. 114 (1986), Table 1: max |u_x| at t = 1.6037/π
BASDEVANT_SLOPE = 152.00516
BASDEVANT_TIME = 1.6037 / math.pi
BASDEVANT_NU = 0.01 / math.pi


def _final(grid: BoundedGrid, eq: BoundedBurgers, u0: torch.Tensor, dt: float, t: float):
    n = round(t / dt)
    return SpectralSolver(eq, dt=dt).rollout(u0, n, save_every=n)[:, -1]


def basdevant_slope(n: int, n_steps: int) -> float:
    """|u_x(0, t*)| of u0 = -sin πx on [-1, 1], ν = 0.01/π, ETDRK4 with ``n`` intervals."""
    grid = BoundedGrid(n, 2.0, boundary="dirichlet", origin=-1.0)
    (x,) = grid.coordinates()
    eq = BoundedBurgers(grid, nu=BASDEVANT_NU)
    with torch.no_grad():
        u = _final(grid, eq, -torch.sin(math.pi * x), BASDEVANT_TIME / n_steps, BASDEVANT_TIME)
    origin = torch.zeros(1, dtype=torch.float64)
    return float(evaluate(grid, u, origin, derivative=(1,)).abs())


def test_basdevant_maximum_slope_to_relative_1e6() -> None:
    # 2048 intervals and 1000 steps (0.6 s): 5.5e-9 relative to the published 8 digits
    assert basdevant_slope(2048, 1000) == pytest.approx(BASDEVANT_SLOPE, rel=1e-6)


def test_basdevant_slope_on_a_coarse_grid_is_within_its_resolution_error() -> None:
    # 512 intervals under-resolve the shock (width ~ 0.01): -1.9 %, the fast sanity check
    assert basdevant_slope(512, 500) == pytest.approx(BASDEVANT_SLOPE, rel=0.025)


@pytest.mark.slow
def test_basdevant_slope_is_grid_and_step_converged() -> None:
    fine = basdevant_slope(4096, 4000)
    assert fine == pytest.approx(BASDEVANT_SLOPE, rel=1e-7)
    assert fine == pytest.approx(basdevant_slope(2048, 1000), rel=1e-8)


def test_dirichlet_burgers_matches_cole_hopf_at_fourth_order_in_time() -> None:
    # u = 2ν e^{-νt} sin x / (2 + e^{-νt} cos x) is odd and 2π-periodic: zero at 0 and π
    grid = BoundedGrid(64, math.pi, boundary="dirichlet")
    (x,) = grid.coordinates()
    eq = BoundedBurgers(grid, nu=0.1)
    u0 = burgers_cole_hopf(x, 0.0, 0.1)
    errors = [
        float((_final(grid, eq, u0, dt, 1.0) - burgers_cole_hopf(x, 1.0, 0.1)).abs().max())
        for dt in (0.2, 0.1, 0.05)
    ]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 5e-11
    assert (orders > 3.9).all(), (errors, orders)


def _reference_error(boundary: str, n: int) -> float:
    """Max error at t = 0.5 (101 points) against 128 intervals; ν = 0.05, dt = 4e-3."""
    wave = torch.sin if boundary == "dirichlet" else torch.cos
    points = torch.linspace(0, 1, 101, dtype=torch.float64)

    def solve(m: int) -> torch.Tensor:
        grid = BoundedGrid(m, 1.0, boundary=boundary)
        (x,) = grid.coordinates()
        u0 = wave(math.pi * x) + 0.3 * wave(2 * math.pi * x)
        u = _final(grid, BoundedBurgers(grid, nu=0.05), u0, 4e-3, 0.5)
        return evaluate(grid, u, points)

    return float((solve(n) - solve(128 if boundary == "dirichlet" else 512)).abs().max())


def test_dirichlet_converges_spectrally_in_space() -> None:
    e16, e32, e64 = (_reference_error("dirichlet", n) for n in (16, 32, 64))
    # measured 7.3e-4, 5.2e-7, 4.5e-13: the error squares as the grid doubles
    assert e32 < 1e-6 and e64 < 1e-11
    assert math.log(e64) / math.log(e32) > 1.8


@pytest.mark.slow
def test_neumann_converges_at_second_order_in_space() -> None:
    # the even extension of (u²)_x has a kink at the walls: algebraic, not spectral (measured
    # 1.9e-3, 5.4e-4, 1.4e-4 at 32, 64, 128 intervals)
    errors = [_reference_error("neumann", n) for n in (32, 64, 128)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert (orders > 1.7).all(), (errors, orders)


def test_gradcheck_through_a_dirichlet_rollout_in_initial_state_and_viscosity() -> None:
    grid = BoundedGrid(6, 1.0, boundary="dirichlet")
    (x,) = grid.coordinates()
    u0 = (torch.sin(math.pi * x) + 0.2 * torch.sin(2 * math.pi * x)).requires_grad_(True)
    nu = torch.tensor([0.1], dtype=torch.float64, requires_grad=True)

    def run(u0: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        return SpectralSolver(BoundedBurgers(grid, nu=nu), dt=0.05).rollout(u0, 2, save_every=1)

    assert torch.autograd.gradcheck(run, (u0, nu), fast_mode=True)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_batched_viscosities_equal_separate_runs(boundary: str) -> None:
    grid = BoundedGrid(32, 1.0, boundary=boundary)
    (x,) = grid.coordinates()
    wave = torch.sin if boundary == "dirichlet" else torch.cos
    u0 = wave(math.pi * x).expand(2, 1, -1)
    nu = torch.tensor([0.05, 0.2], dtype=torch.float64)
    batched = _final(grid, BoundedBurgers(grid, nu=nu), u0, 0.01, 0.2)
    for i in range(2):
        single = _final(grid, BoundedBurgers(grid, nu=float(nu[i])), u0[i : i + 1], 0.01, 0.2)
        assert torch.allclose(batched[i], single[0], atol=1e-14)


def test_float32_run_agrees_with_float64() -> None:
    out = {}
    for dtype in (torch.float32, torch.float64):
        grid = BoundedGrid(32, 1.0, boundary="dirichlet", dtype=dtype)
        (x,) = grid.coordinates()
        out[dtype] = _final(grid, BoundedBurgers(grid, nu=0.05), torch.sin(math.pi * x), 0.01, 0.3)
    assert out[torch.float32].dtype == torch.float32
    assert torch.allclose(out[torch.float32].double(), out[torch.float64], atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_agrees_with_cpu() -> None:
    out = []
    for device in ("cpu", "cuda"):
        grid = BoundedGrid(32, 1.0, boundary="neumann", device=device)
        (x,) = grid.coordinates()
        out.append(_final(grid, BoundedBurgers(grid, nu=0.05), torch.cos(math.pi * x), 0.01, 0.3))
    assert torch.allclose(out[0], out[1].cpu(), atol=1e-12)


def test_a_periodic_grid_or_negative_viscosity_is_refused() -> None:
    from sciml.solvers.spectral import Grid

    with pytest.raises(TypeError, match="grid must be a sciml.solvers.spectral.BoundedGrid"):
        BoundedBurgers(Grid(8))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="viscosity nu must be >= 0, got -1"):
        BoundedBurgers(BoundedGrid(8), nu=-1.0)
    with pytest.raises(ValueError, match=r"defined in \(1,\) spatial dimension"):
        BoundedBurgers(BoundedGrid((8, 8)))
