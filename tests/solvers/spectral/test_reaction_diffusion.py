"""Allen–Cahn and Gray–Scott: uniform states follow their reaction ODEs; diffusion per channel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sciml.solvers.spectral import AllenCahn, GrayScott, Grid, SpectralSolver
from sciml.testing import assert_convergence_order


@pytest.mark.parametrize("shape", [(8,), (8, 8), (4, 4, 4)])
def test_allen_cahn_uniform_state_follows_logistic_closed_form_at_fourth_order(
    shape: tuple[int, ...],
) -> None:
    grid = Grid(shape, dtype=torch.float64)
    u0, t_end = 0.2, 2.0
    exact = u0 * math.exp(t_end) / math.sqrt(1 + u0**2 * (math.exp(2 * t_end) - 1))
    dts, errs = [0.2, 0.1, 0.05], []
    for dt in dts:
        n = round(t_end / dt)
        state = torch.full((1, 1, *shape), u0, dtype=torch.float64)
        u = SpectralSolver(AllenCahn(grid, epsilon=0.01), dt).rollout(state, n, save_every=n)
        errs.append(float((u[:, -1] - exact).abs().max()))
    assert_convergence_order(dts, errs, 4.0, tol=0.2)


def test_allen_cahn_relaxes_to_the_two_phases() -> None:
    grid = Grid(128, 2 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = 0.1 * torch.sin(x) + 0.01 * torch.cos(5 * x)
    u = SpectralSolver(AllenCahn(grid, epsilon=0.01), 0.1).rollout(u0, 200, save_every=200)
    final = u[:, -1]
    # away from the two interfaces the field sits in the wells u = ±1
    assert float((final.abs() - 1).abs().quantile(0.5)) < 1e-3


def gray_scott_reference(u0: float, v0: float, f: float, k: float, t_end: float) -> np.ndarray:
    def rhs(_t: float, y: np.ndarray) -> list[float]:
        u, v = y
        return [-u * v * v + f * (1 - u), u * v * v - (f + k) * v]

    sol = solve_ivp(rhs, (0, t_end), [u0, v0], method="DOP853", rtol=1e-13, atol=1e-14)
    return sol.y[:, -1]


def test_gray_scott_uniform_state_matches_reaction_ode_at_fourth_order() -> None:
    grid = Grid((8, 8), 2.5, dtype=torch.float64)
    f, k, t_end = 0.04, 0.06, 20.0
    reference = torch.tensor(gray_scott_reference(0.5, 0.25, f, k, t_end), dtype=torch.float64)
    state = torch.tensor([0.5, 0.25], dtype=torch.float64).reshape(1, 2, 1, 1).expand(1, 2, 8, 8)
    dts, errs = [1.0, 0.5, 0.25], []
    for dt in dts:
        n = round(t_end / dt)
        eq = GrayScott(grid, feed_rate=f, kill_rate=k)
        uv = SpectralSolver(eq, dt).rollout(state.contiguous(), n, save_every=n)[0, -1]
        errs.append(float((uv.mean(dim=(-2, -1)) - reference).abs().max()))
    assert_convergence_order(dts, errs, 4.0, tol=0.2)


def test_gray_scott_channels_diffuse_with_their_own_diffusivity() -> None:
    grid = Grid((16, 16), 2 * math.pi, dtype=torch.float64)
    x, y = grid.coordinates()
    mode = torch.cos(x) * torch.cos(2 * y)  # |k|² = 5
    state = torch.cat([mode, 0 * mode], dim=1)  # v = 0: no reaction, F = κ = 0: pure diffusion
    eq = GrayScott(grid, feed_rate=0.0, kill_rate=0.0, diffusivity_u=0.1, diffusivity_v=0.02)
    uv = SpectralSolver(eq, 0.5).rollout(state, 4)[:, -1]
    assert float((uv[:, 0:1] - mode * math.exp(-0.1 * 5 * 2.0)).abs().max()) < 1e-14
    assert float(uv[:, 1].abs().max()) < 1e-14
