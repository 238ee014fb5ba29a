"""Every time stepper reaches its order of accuracy on ODEs with closed-form solutions.

A spatially constant field of ``u_t = λu - u²`` (``L = λ``, ``N(u) = -u²``) follows the Bernoulli
ODE with solution ``u(t) = λ u0 e^{λt} / (λ + u0 (e^{λt} - 1))`` (``u0 / (1 + u0 t)`` for λ = 0).
"""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import SCHEMES, Grid, SpectralEquation, SpectralSolver, contour_mean
from sciml.solvers.spectral.etdrk4 import f1
from sciml.testing import assert_convergence_order

T_END = 1.0
U0 = 0.8


class Bernoulli(SpectralEquation):
    """``u_t = λ u - u²`` on a tiny periodic grid (constant fields stay constant)."""

    def __init__(self, grid: Grid, lam: float, nonlinear: bool = True) -> None:
        super().__init__(grid, dealias="none")
        self.lam = self.param("lam", lam)
        self.has_nonlinear = nonlinear

    def linear_symbol(self) -> torch.Tensor:
        return self.lam * torch.ones((1, 1, *self.grid.fourier_shape), dtype=self.grid.dtype)

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        if not self.has_nonlinear:
            return torch.zeros_like(u_hat)
        u = self.to_physical(u_hat)
        return -self.to_fourier(u * u)


def exact(lam: float, t: float, nonlinear: bool = True) -> float:
    if not nonlinear:
        return U0 * math.exp(lam * t)
    if lam == 0:
        return U0 / (1 + U0 * t)
    e = math.exp(lam * t)
    return lam * U0 * e / (lam + U0 * (e - 1))


def errors(scheme: str, lam: float, dts: list[float], nonlinear: bool = True) -> list[float]:
    grid = Grid(4, dtype=torch.float64)
    u0 = torch.full((1, 1, 4), U0, dtype=torch.float64)
    out = []
    for dt in dts:
        solver = SpectralSolver(Bernoulli(grid, lam, nonlinear), dt, scheme)
        n = round(T_END / dt)
        u = solver.rollout(u0, n, save_every=n)[:, -1]
        out.append(abs(float(u.mean()) - exact(lam, T_END, nonlinear)))
    return out


DTS = [0.05, 0.025, 0.0125, 0.00625]


@pytest.mark.parametrize("scheme", ["etdrk1", "etdrk2", "etdrk3", "etdrk4"])
@pytest.mark.parametrize("lam", [-1.0, 0.5])
def test_etdrk_order_on_stiff_and_growing_bernoulli_ode(scheme: str, lam: float) -> None:
    order = SCHEMES[scheme].order
    assert_convergence_order(DTS, errors(scheme, lam, DTS), order, tol=0.15)


@pytest.mark.parametrize("scheme", ["cn_rk2", "cn_rk3", "cn_rk4"])
def test_imex_explicit_part_order_without_linear_term(scheme: str) -> None:
    order = SCHEMES[scheme].order
    assert_convergence_order(DTS, errors(scheme, 0.0, DTS), order, tol=0.15)


@pytest.mark.parametrize("scheme", ["cn_rk2", "cn_rk3", "cn_rk4"])
@pytest.mark.parametrize("nonlinear", [False, True])
def test_imex_crank_nicolson_is_second_order_with_linear_term(scheme: str, nonlinear: bool) -> None:
    # cn_rk3's second-order error constant is small: use smaller steps to be asymptotic
    dts = [dt / 5 for dt in DTS]
    assert_convergence_order(dts, errors(scheme, -1.0, dts, nonlinear), 2.0, tol=0.15)


@pytest.mark.parametrize("scheme", ["etdrk1", "etdrk2", "etdrk3", "etdrk4"])
def test_etdrk_is_exact_for_linear_problems(scheme: str) -> None:
    err = errors(scheme, -3.0, [0.25], nonlinear=False)[0]
    assert err < 1e-14


def test_contour_integral_matches_series_near_zero_and_direct_formula_far_away() -> None:
    z = torch.tensor([1e-8, -1e-3, -0.5, -20.0, 2j, -50 + 3j], dtype=torch.complex128)
    got = contour_mean(f1, z, n_points=32)
    # Taylor series f1 = 1/6 + z/6 + 3z²/40 + z³/45 + ... near 0; direct formula far from 0
    series = 1 / 6 + z / 6 + 3 * z**2 / 40 + z**3 / 45
    assert torch.allclose(got[:2], series[:2], rtol=1e-12, atol=0)
    assert torch.allclose(got[2:], f1(z[2:]), rtol=1e-12, atol=0)
