"""GPME closed forms: PDE residuals, the Stefan root and front conditions, exact masses vs quadrature."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.gpme import (
    PROBLEMS,
    exact_solution,
    front_position,
    pme_solution,
    stefan_constants,
    stefan_solution,
    total_mass,
)
from sciml.testing import convergence_order

F64 = torch.float64


@pytest.mark.parametrize("u_star", [0.5, 0.55, 0.6, 0.7])
def test_stefan_root_solves_the_front_equation_and_the_front_value_is_u_star(u_star: float) -> None:
    z1, alpha, c1 = stefan_constants(u_star)
    residual = u_star * torch.erf(z1) * z1 * torch.exp(z1**2) - (1 - u_star) / math.sqrt(math.pi)
    assert abs(float(residual)) < 1e-14
    assert float(alpha) == pytest.approx(2 * float(z1))
    t = torch.tensor(0.05, dtype=F64)
    front = alpha * t.sqrt()
    left = stefan_solution(t, front, u_star)  # x = α√t is still liquid
    assert float(left) == pytest.approx(u_star, abs=1e-14)
    assert float(stefan_solution(t, front + 1e-12, u_star)) == 0.0
    assert float(stefan_solution(t, torch.tensor(0.0, dtype=F64), u_star)) == 1.0
    assert float(c1) == pytest.approx((1 - u_star) / math.erf(float(z1)))


def _fine_integral(name: str, t: float, param: float, n: int) -> float:
    """Trapezoid integral of the closed form over its domain on a grid ending at the front."""
    lo, hi = PROBLEMS[name].x_range
    tt = torch.tensor(t, dtype=F64)
    if name == "heat":
        end = hi
    else:
        end = float(front_position(name, tt, param))
    x = torch.linspace(lo, end, n, dtype=F64)
    return float(torch.trapezoid(exact_solution(name, tt, x, param), x))


@pytest.mark.parametrize(
    ("name", "param", "tol"),
    [("heat", 3.0, 1e-12), ("pme", 1.0, 1e-12), ("pme", 3.0, 2e-7), ("pme", 6.0, 2e-6),
     ("stefan", 0.6, 1e-10), ("stefan", 0.5, 1e-10)],
)  # fmt: skip
def test_exact_mass_equals_fine_grid_quadrature(name: str, param: float, tol: float) -> None:
    t = PROBLEMS[name].t_eval
    exact = float(total_mass(name, torch.tensor(t, dtype=F64), param))
    quad = _fine_integral(name, t, param, 100_001)
    assert abs(quad - exact) <= tol * max(1.0, abs(exact))


def test_stefan_mass_rate_is_the_inflow_flux_at_x0() -> None:
    # dU/dt = -u_x(t, 0): the mass enters only through the left boundary
    u_star, t, h = 0.6, torch.tensor(0.04, dtype=F64), 1e-6
    dudt = (total_mass("stefan", t + h, u_star) - total_mass("stefan", t - h, u_star)) / (2 * h)
    x = torch.tensor([0.0, h], dtype=F64)
    u = stefan_solution(t, x, u_star)
    flux = -(u[1] - u[0]) / h
    assert float(dudt) == pytest.approx(float(flux), rel=1e-5)


def _pme_residual(m: float, h: float) -> float:
    """max |u_t - (u^m u_x)_x| by central differences at points behind the front x = t."""
    t = torch.tensor(0.8, dtype=F64)
    x = torch.tensor([0.1, 0.3, 0.5], dtype=F64)
    u = lambda tt, xx: pme_solution(tt, xx, m)  # noqa: E731
    u_t = (u(t + h, x) - u(t - h, x)) / (2 * h)
    flux = lambda xx: u(t, xx).pow(m) * (u(t, xx + h / 2) - u(t, xx - h / 2)) / h  # noqa: E731
    div = (flux(x + h / 2) - flux(x - h / 2)) / h
    return float((u_t - div).abs().max())


def test_pme_solution_solves_the_pde_with_second_order_residual() -> None:
    hs = [4e-3, 2e-3, 1e-3]
    errors = [_pme_residual(3.0, h) for h in hs]
    assert convergence_order(hs, errors) == pytest.approx(2.0, abs=0.2)
    assert errors[-1] < 1e-4


def test_stefan_and_heat_solve_the_heat_equation_in_their_liquid_region() -> None:
    h = 1e-4
    t = torch.tensor(0.05, dtype=F64)
    x = torch.tensor([0.02, 0.1, 0.2], dtype=F64)  # front at α√0.05 ≈ 0.235 for u* = 0.6
    for fn, k in ((lambda tt, xx: stefan_solution(tt, xx, 0.6), 1.0),
                  (lambda tt, xx: exact_solution("heat", tt, xx, 2.5), 2.5)):  # fmt: skip
        u_t = (fn(t + h, x) - fn(t - h, x)) / (2 * h)
        u_xx = (fn(t, x + h) - 2 * fn(t, x) + fn(t, x - h)) / h**2
        assert float(((u_t - k * u_xx) / u_t).abs().max()) < 1e-5


def test_broadcasts_a_batch_of_parameters_over_a_space_time_grid() -> None:
    t = torch.linspace(0, 0.1, 6, dtype=F64)[:, None]
    x = torch.linspace(0, 1, 11, dtype=F64)[None, :]
    u_star = torch.tensor([0.55, 0.7], dtype=F64)[:, None, None]
    u = exact_solution("stefan", t, x, u_star)
    assert u.shape == (2, 6, 11)
    assert torch.isfinite(u).all() and u[:, 0, 1:].abs().max() == 0
    assert total_mass("stefan", t[:, 0], u_star[:, :, 0]).shape == (2, 6)


def test_bad_problem_and_parameter_are_clear_errors() -> None:
    with pytest.raises(
        ValueError, match=r"must be one of \['heat', 'pme', 'stefan'\], got 'burgers'"
    ):
        total_mass("burgers", torch.zeros(1), 1.0)
    with pytest.raises(ValueError, match=r"u_star must lie in \(0, 1\), got \[1.25\]"):
        stefan_constants(torch.tensor([1.25]))
