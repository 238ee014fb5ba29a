"""Advection, diffusion and advection–diffusion against their exact Fourier solutions."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers import exact
from sciml.solvers.spectral import Advection, AdvectionDiffusion, Diffusion, Grid, SpectralSolver
from sciml.testing import assert_convergence_order

MODES, AMPS, PHASES = (1, 3, 7), (1.0, 0.5, 0.25), (0.0, 0.3, 1.1)


def adv_diff_case(scheme: str, dt: float, velocity: float, nu: float) -> float:
    grid = Grid(64, 1.0, dtype=torch.float64)
    (x,) = grid.coordinates()
    kw = {"velocity": velocity, "nu": nu, "length": 1.0, "modes": MODES, "amplitudes": AMPS}
    u0 = exact.advection_diffusion(x, 0.0, phases=PHASES, **kw)
    steps = round(1.0 / dt)
    eq = AdvectionDiffusion(grid, velocity=velocity, nu=nu)
    u = SpectralSolver(eq, dt, scheme).rollout(u0, steps, save_every=steps)[:, -1]
    return float((u - exact.advection_diffusion(x, 1.0, phases=PHASES, **kw)).abs().max())


@pytest.mark.parametrize("scheme", ["etdrk1", "etdrk4"])
def test_etdrk_advection_diffusion_is_exact_at_any_dt(scheme: str) -> None:
    assert adv_diff_case(scheme, 0.5, velocity=0.4, nu=0.01) < 1e-13


@pytest.mark.parametrize("scheme", ["cn_rk2", "cn_rk3", "cn_rk4"])
def test_crank_nicolson_advection_diffusion_is_second_order(scheme: str) -> None:
    dts = [0.05, 0.025, 0.0125]
    errs = [adv_diff_case(scheme, dt, velocity=0.4, nu=0.01) for dt in dts]
    assert_convergence_order(dts, errs, 2.0, tol=0.1)


def test_advection_in_2d_translates_by_velocity_times_time() -> None:
    grid = Grid((32, 16), 2 * math.pi, dtype=torch.float64)
    x, y = grid.coordinates()
    c = (0.7, -1.3)
    u0 = torch.sin(2 * x) * torch.cos(y) + 0.0 * y
    u = SpectralSolver(Advection(grid, velocity=c), 0.3).rollout(u0, 5)[:, -1]
    t = 1.5
    expected = torch.sin(2 * (x - c[0] * t)) * torch.cos(y - c[1] * t)
    assert float((u - expected).abs().max()) < 1e-13


def test_diffusion_per_batch_nu_decays_each_mode_at_its_rate() -> None:
    grid = Grid((16, 16), 2 * math.pi, dtype=torch.float64)
    x, y = grid.coordinates()
    nu = torch.tensor([0.1, 0.3], dtype=torch.float64)
    u0 = (torch.cos(x) * torch.sin(2 * y)).expand(2, 1, 16, 16)
    u = SpectralSolver(Diffusion(grid, nu=nu), 0.25).step(u0)
    expected = u0 * torch.exp(-5 * nu * 0.25).reshape(2, 1, 1, 1)
    assert float((u - expected).abs().max()) < 1e-14
