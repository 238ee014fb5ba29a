"""Kuramoto–Sivashinsky: ETDRK4 self-convergence on the Kassam–Trefethen setup."""

from __future__ import annotations

import math

import torch

from sciml.solvers.spectral import Grid, KuramotoSivashinsky, SpectralSolver
from sciml.testing import assert_convergence_order


def test_etdrk4_self_convergence_is_fourth_order() -> None:
    grid = Grid(128, 32 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = torch.cos(x / 16) * (1 + torch.sin(x / 16))  # Kassam & Trefethen (2005), §3
    eq = KuramotoSivashinsky(grid)
    # at larger dt (|dt·L| up to 50) ETDRK4 shows the known stiff order reduction (≈ 3)
    t_end = 5.0

    def final(dt: float) -> torch.Tensor:
        steps = round(t_end / dt)
        return SpectralSolver(eq, dt).rollout(u0, steps, save_every=steps)[:, -1]

    reference = final(0.005)
    dts = [0.1, 0.05, 0.025]
    errs = [float((final(dt) - reference).abs().max()) for dt in dts]
    assert_convergence_order(dts, errs, 4.0, tol=0.2)


def test_mean_is_conserved() -> None:
    grid = Grid(64, 22.0, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = 0.3 + torch.sin(2 * math.pi * x / 22.0)
    traj = SpectralSolver(KuramotoSivashinsky(grid), 0.1).rollout(u0, 50, save_every=10)
    assert float((traj.mean(dim=-1) - 0.3).abs().max()) < 1e-12
