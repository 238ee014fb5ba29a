"""The closed-form solutions satisfy their PDEs (checked with autograd derivatives, float64)."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers import exact


def grads(u: torch.Tensor, x: torch.Tensor, order: int) -> list[torch.Tensor]:
    out, cur = [], u
    for _ in range(order):
        (cur,) = torch.autograd.grad(cur.sum(), x, create_graph=True)
        out.append(cur)
    return out


def points(n: int = 50, lo: float = 0.0, hi: float = 2 * math.pi) -> torch.Tensor:
    return torch.linspace(lo, hi, n, dtype=torch.float64).requires_grad_(True)


def test_cole_hopf_solves_viscous_burgers() -> None:
    x = points()
    t = torch.full_like(x, 0.7).requires_grad_(True)
    nu = 0.1
    u = exact.burgers_cole_hopf(x, t, nu)
    ux, uxx = grads(u, x, 2)
    (ut,) = torch.autograd.grad(u.sum(), t)
    assert float((ut + u * ux - nu * uxx).detach().abs().max()) < 1e-13


def test_cole_hopf_rejects_a_below_one() -> None:
    with pytest.raises(ValueError, match="a must be > 1"):
        exact.burgers_cole_hopf(points(), 0.0, 0.1, a=0.5)


def test_taylor_green_vorticity_is_a_laplacian_eigenfunction_with_exact_decay() -> None:
    x, y = points(), points()
    t = torch.full_like(x, 0.3).requires_grad_(True)
    w = exact.taylor_green_vorticity(x, y, t, 0.01, k=2, drag=0.1)
    (wx,) = torch.autograd.grad(w.sum(), x, create_graph=True)
    (wxx,) = torch.autograd.grad(wx.sum(), x, create_graph=True)
    (wy,) = torch.autograd.grad(w.sum(), y, create_graph=True)
    (wyy,) = torch.autograd.grad(wy.sum(), y, create_graph=True)
    (wt,) = torch.autograd.grad(w.sum(), t)
    assert torch.allclose(wxx + wyy, -8 * w)
    assert torch.allclose(wt, 0.01 * (wxx + wyy) - 0.1 * w)


def test_kdv_soliton_solves_kdv() -> None:
    x = points(80, -10.0, 10.0)
    t = torch.full_like(x, 0.2).requires_grad_(True)
    u = exact.kdv_soliton(x, t, 1.5)
    ux, _, uxxx = grads(u, x, 3)
    (ut,) = torch.autograd.grad(u.sum(), t)
    assert float((ut + 6 * u * ux + uxxx).detach().abs().max()) < 1e-12


def test_kdv_soliton_periodic_wrap_puts_the_crest_at_x0_plus_ct() -> None:
    x = torch.linspace(0, 40, 401, dtype=torch.float64)
    u = exact.kdv_soliton(x, 5.0, 2.0, x0=30.0, length=40.0)  # crest at 40 ≡ 0
    assert int(u.argmax()) in (0, 400)
    assert math.isclose(float(u.max()), 1.0, rel_tol=1e-12)


def test_advection_diffusion_series_solves_the_pde() -> None:
    x = points(60, 0.0, 1.0)
    t = torch.full_like(x, 0.4).requires_grad_(True)
    u = exact.advection_diffusion(
        x, t, velocity=0.3, nu=0.02, length=1.0, modes=(1, 4), amplitudes=(1.0, 0.3)
    )
    ux, uxx = grads(u, x, 2)
    (ut,) = torch.autograd.grad(u.sum(), t)
    assert float((ut + 0.3 * ux - 0.02 * uxx).detach().abs().max()) < 1e-12
    with pytest.raises(ValueError, match="same length"):
        exact.advection_diffusion(x, 0.0, velocity=1.0, nu=0.0, modes=(1, 2), amplitudes=(1.0,))


def test_cole_hopf_quadrature_reproduces_the_closed_form_and_its_slope() -> None:
    y = torch.arange(64, dtype=torch.float64) * 2 * math.pi / 64
    x = points(37, -2.0, 9.0)
    for t, nu in ((0.3, 0.1), (2.0, 0.05)):
        u0 = exact.burgers_cole_hopf(y, 0.0, nu)
        u, ux = exact.burgers_cole_hopf_quadrature(u0, x.detach(), t, nu, derivative=True)
        closed = exact.burgers_cole_hopf(x, t, nu)
        (closed_x,) = torch.autograd.grad(closed.sum(), x)
        assert torch.allclose(u, closed.detach(), atol=1e-14)
        assert torch.allclose(ux, closed_x, atol=1e-13)


def test_cole_hopf_quadrature_matches_the_spectral_solver_for_a_random_initial_condition() -> None:
    from sciml.solvers.spectral import Burgers, Grid, SpectralSolver

    gen = torch.Generator().manual_seed(3)
    m = torch.arange(1, 6, dtype=torch.float64)
    a, b = 0.5 * torch.randn(2, 5, dtype=torch.float64, generator=gen) / m**2
    grid = Grid(128, 2 * math.pi)
    (x,) = grid.coordinates()
    u0 = 0.2 + (a * torch.sin(m * x[..., None]) + b * torch.cos(m * x[..., None])).sum(-1)
    u = SpectralSolver(Burgers(grid, nu=0.1), dt=0.01).rollout(u0, 100, save_every=100)[0, -1, 0]
    ref = exact.burgers_cole_hopf_quadrature(u0.reshape(-1), x.reshape(-1), 1.0, 0.1)
    # measured 2.1e-9, the ETDRK4 time error (8.0e-12 with N = 256, dt = 0.0025)
    assert float((u - ref).abs().max()) < 5e-9


def test_cole_hopf_quadrature_gives_the_basdevant_shock_slope() -> None:
    # u0 = -sin(πx) on the 2-periodic line (samples at y_j = 2j/N), ν = 0.01/π, t = 1.6037/π
    y = torch.arange(16, dtype=torch.float64) * 2 / 16
    _, ux = exact.burgers_cole_hopf_quadrature(
        -torch.sin(math.pi * y),
        torch.zeros(1, dtype=torch.float64),
        1.6037 / math.pi,
        0.01 / math.pi,
        length=2.0,
        derivative=True,
    )
    assert float(-ux) == pytest.approx(152.00516, rel=1e-6)


def test_cole_hopf_quadrature_refuses_bad_arguments() -> None:
    u0 = torch.zeros(8, dtype=torch.float64)
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="t and nu must be > 0, got t=0.0, nu=0.1"):
        exact.burgers_cole_hopf_quadrature(u0, x, 0.0, 0.1)
    with pytest.raises(ValueError, match=r"u0 must have shape \(N,\) or \(B, N\) with N even"):
        exact.burgers_cole_hopf_quadrature(torch.zeros(7, dtype=torch.float64), x, 1.0, 0.1)
