"""Rollout losses are differentiable: autograd agrees with central finite differences (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import Burgers, GrayScott, Grid, KdV, NavierStokes2D, SpectralSolver
from sciml.testing import assert_grad_matches_fd


def burgers_setup(n: int = 32) -> tuple[Grid, torch.Tensor, torch.Tensor]:
    grid = Grid(n, 2 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = torch.cat([torch.sin(x), 0.5 * torch.cos(2 * x) + 0.2]).reshape(2, 1, n)
    weight = torch.linspace(0.5, 1.5, n, dtype=torch.float64)
    return grid, u0, weight


@pytest.mark.parametrize("scheme", ["etdrk4", "cn_rk3"])
def test_gradient_wrt_initial_state_matches_fd(scheme: str) -> None:
    grid, u0, w = burgers_setup()
    solver = SpectralSolver(Burgers(grid, nu=0.1), 0.05, scheme)

    def loss(u: torch.Tensor) -> torch.Tensor:
        return (solver.rollout(u, 10, save_every=5) ** 2 * w).sum()

    assert_grad_matches_fd(loss, u0, rtol=1e-6)


@pytest.mark.parametrize("scheme", ["etdrk1", "etdrk4", "cn_rk2"])
def test_gradient_wrt_per_batch_viscosity_matches_fd(scheme: str) -> None:
    grid, u0, w = burgers_setup()

    def loss(nu: torch.Tensor) -> torch.Tensor:
        solver = SpectralSolver(Burgers(grid, nu=nu), 0.05, scheme)
        return (solver.rollout(u0, 10)[:, -1] ** 2 * w).sum()

    assert_grad_matches_fd(loss, torch.tensor([0.1, 0.05], dtype=torch.float64), rtol=1e-6)


def test_gradient_wrt_kdv_dispersion_through_complex_coefficients_matches_fd() -> None:
    grid = Grid(32, 20.0, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = torch.exp(-((x - 10) ** 2))

    def loss(beta: torch.Tensor) -> torch.Tensor:
        solver = SpectralSolver(KdV(grid, beta=beta), 0.05)
        return (solver.rollout(u0, 8)[:, -1] * torch.sin(x)).sum()

    assert_grad_matches_fd(loss, torch.tensor([1.0], dtype=torch.float64), rtol=1e-6)


def test_gradient_wrt_navier_stokes_viscosity_and_vorticity_matches_fd() -> None:
    grid = Grid((16, 16), 2 * math.pi, dtype=torch.float64)
    x, y = grid.coordinates()
    w0 = torch.sin(x) * torch.cos(2 * y) + 0.5 * torch.cos(3 * x + y)

    def loss_nu(nu: torch.Tensor) -> torch.Tensor:
        eq = NavierStokes2D(grid, nu=nu, drag=0.1, forcing="kolmogorov", forcing_wavenumber=2)
        return (SpectralSolver(eq, 0.05).rollout(w0, 6)[:, -1] ** 2).sum()

    def loss_w(w: torch.Tensor) -> torch.Tensor:
        eq = NavierStokes2D(grid, nu=0.02)
        return (SpectralSolver(eq, 0.05).rollout(w, 6)[:, -1] * torch.cos(x)).sum()

    assert_grad_matches_fd(loss_nu, torch.tensor([0.02], dtype=torch.float64), rtol=1e-6)
    assert_grad_matches_fd(loss_w, w0, rtol=1e-6)


def test_gradient_wrt_domain_length_matches_fd() -> None:
    def loss(length: torch.Tensor) -> torch.Tensor:
        grid = Grid(32, length, dtype=torch.float64)
        (x,) = grid.coordinates()
        u0 = torch.sin(2 * math.pi * x / grid.length)  # (2, 1, 32): one period per length
        return (SpectralSolver(Burgers(grid, nu=0.1), 0.05).rollout(u0, 5)[:, -1] ** 2).sum()

    assert_grad_matches_fd(loss, torch.tensor([6.0, 8.0], dtype=torch.float64), rtol=1e-6)


def test_checkpointed_rollout_gives_identical_gradients() -> None:
    grid, u0, w = burgers_setup()
    nu = torch.tensor([0.1, 0.05], dtype=torch.float64, requires_grad=True)
    grads = []
    for ckpt in (False, True):
        u = u0.clone().requires_grad_(True)
        solver = SpectralSolver(Burgers(grid, nu=nu), 0.05)
        loss = (solver.rollout(u, 12, save_every=4, checkpoint=ckpt) ** 2 * w).sum()
        grads.append(torch.autograd.grad(loss, (u, nu)))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-12, atol=0)


def test_gradient_wrt_gray_scott_rates_through_channelwise_symbols_matches_fd() -> None:
    grid = Grid((8, 8), 2.5, dtype=torch.float64)
    x, y = grid.coordinates()
    bump = torch.exp(-((x - 1.25) ** 2 + (y - 1.25) ** 2) / 0.1)
    state = torch.cat([1 - 0.5 * bump, 0.25 * bump], dim=1).expand(2, 2, 8, 8).contiguous()

    def loss(feed: torch.Tensor) -> torch.Tensor:
        eq = GrayScott(grid, feed_rate=feed, kill_rate=0.06, diffusivity_u=0.02, diffusivity_v=0.01)
        return (SpectralSolver(eq, 0.5).rollout(state, 6)[:, -1, 1] ** 2).sum()

    assert_grad_matches_fd(loss, torch.tensor([0.04, 0.03], dtype=torch.float64), rtol=1e-6)
