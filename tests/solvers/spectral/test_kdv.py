"""KdV against the travelling soliton (ETDRK4 handles the stiff dispersion exactly)."""

from __future__ import annotations

import torch

from sciml.solvers import exact
from sciml.solvers.spectral import Grid, KdV, SpectralSolver
from sciml.testing import assert_convergence_order

LENGTH, SPEED = 50.0, 2.0


def soliton_error(dt: float) -> float:
    grid = Grid(256, LENGTH, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = exact.kdv_soliton(x, 0.0, SPEED, x0=LENGTH / 2, length=LENGTH)
    steps = round(1.0 / dt)
    u = SpectralSolver(KdV(grid), dt).rollout(u0, steps, save_every=steps)[:, -1]
    return float((u - exact.kdv_soliton(x, 1.0, SPEED, x0=LENGTH / 2, length=LENGTH)).abs().max())


def test_etdrk4_soliton_is_fourth_order() -> None:
    dts = [0.02, 0.01, 0.005]
    errs = [soliton_error(dt) for dt in dts]
    assert errs[-1] < 1e-7
    assert_convergence_order(dts, errs, 4.0, tol=0.2)


def test_soliton_conserves_mass_and_momentum() -> None:
    grid = Grid(128, LENGTH, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = exact.kdv_soliton(x, 0.0, SPEED, x0=LENGTH / 2, length=LENGTH)
    traj = SpectralSolver(KdV(grid), 0.01).rollout(u0, 100, save_every=10)
    mass = traj.mean(dim=(-2, -1))
    momentum = (traj**2).mean(dim=(-2, -1))
    assert float((mass - mass[:, :1]).abs().max()) < 1e-12
    assert float((momentum - momentum[:, :1]).abs().max()) < 1e-8
