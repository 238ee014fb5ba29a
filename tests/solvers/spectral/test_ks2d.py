"""2D Kuramoto–Sivashinsky (gradient form): fourth-order ETDRK4 and the 1D reduction."""

from __future__ import annotations

import math

import torch

from sciml.solvers.spectral import Grid, KuramotoSivashinsky, KuramotoSivashinsky2D, SpectralSolver
from sciml.testing import assert_convergence_order


def test_etdrk4_self_convergence_is_fourth_order_in_2d() -> None:
    # 16² keeps |dt·L| moderate; at 32² ETDRK4 shows the stiff order reduction (≈ 3.3)
    grid = Grid((16, 16), 20.0, dtype=torch.float64)
    x, y = grid.coordinates()
    k = 2 * math.pi / 20.0
    u0 = torch.cos(k * x) * torch.sin(2 * k * y) + 0.5 * torch.sin(3 * k * (x + y))
    eq = KuramotoSivashinsky2D(grid)

    def final(dt: float) -> torch.Tensor:
        n = round(2.0 / dt)
        return SpectralSolver(eq, dt).rollout(u0, n, save_every=n)[:, -1]

    reference = final(0.004)
    dts = [0.05, 0.025, 0.0125]
    errs = [float((final(dt) - reference).abs().max()) for dt in dts]
    assert_convergence_order(dts, errs, 4.0, tol=0.25)


def test_x_derivative_of_a_y_independent_solution_solves_the_1d_conservative_form() -> None:
    length = 22.0
    grid2 = Grid((64, 8), length, dtype=torch.float64)
    grid1 = Grid(64, length, dtype=torch.float64)
    (x1,) = grid1.coordinates()
    k = 2 * math.pi / length
    u0 = torch.cos(k * x1) + 0.3 * torch.sin(2 * k * x1)  # u(x), constant in y
    u2 = SpectralSolver(KuramotoSivashinsky2D(grid2), 0.05).rollout(
        u0[..., None].expand(1, 1, 64, 8).contiguous(), 20, save_every=20
    )[:, -1, :, :, 0]
    v0 = grid1.irfft(grid1.derivative_symbol(0, 1) * grid1.rfft(u0))  # v = u_x
    v1 = SpectralSolver(KuramotoSivashinsky(grid1), 0.05).rollout(v0, 20, save_every=20)[:, -1]
    v2 = grid1.irfft(grid1.derivative_symbol(0, 1) * grid1.rfft(u2))
    assert float((v1 - v2).abs().max()) < 1e-12
