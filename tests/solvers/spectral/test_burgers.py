"""Viscous Burgers against the exact periodic Cole–Hopf solution."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers import exact
from sciml.solvers.spectral import Burgers, Grid, SpectralSolver
from sciml.testing import assert_convergence_order

NU = 0.1


def burgers_error(n: int, dt: float, scheme: str = "etdrk4", dealias: str = "2/3") -> float:
    grid = Grid(n, 2 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    solver = SpectralSolver(Burgers(grid, nu=NU, dealias=dealias), dt, scheme)
    steps = round(1.0 / dt)
    u = solver.rollout(exact.burgers_cole_hopf(x, 0.0, NU), steps, save_every=steps)[:, -1]
    return float((u - exact.burgers_cole_hopf(x, 1.0, NU)).abs().max())


def test_etdrk4_is_fourth_order_and_within_1e9_of_cole_hopf() -> None:
    dts = [0.1, 0.05, 0.025]
    errs = [burgers_error(256, dt) for dt in dts]
    assert errs[0] <= 1e-9  # N=256, nu=0.1, t=1 (issue requirement), dt=0.1
    assert_convergence_order(dts, errs, 4.0, tol=0.15)


@pytest.mark.parametrize(("scheme", "order"), [("etdrk2", 2), ("cn_rk2", 2), ("cn_rk4", 2)])
def test_second_order_schemes_converge_to_cole_hopf(scheme: str, order: int) -> None:
    dts = [0.1, 0.05, 0.025]
    assert_convergence_order(dts, [burgers_error(64, dt, scheme) for dt in dts], order, tol=0.15)


def test_three_halves_padding_agrees_with_two_thirds_mask() -> None:
    assert burgers_error(64, 0.05, dealias="3/2") < 1e-10
    assert burgers_error(64, 0.05, dealias="2/3") < 1e-10


def test_per_batch_viscosity_matches_separate_solves() -> None:
    grid = Grid(32, dtype=torch.float64)
    (x,) = grid.coordinates()
    nus = torch.tensor([0.05, 0.2], dtype=torch.float64)
    u0 = torch.sin(x).expand(2, 1, 32)
    batched = SpectralSolver(Burgers(grid, nu=nus), 0.05).rollout(u0, 10)
    for i, nu in enumerate(nus.tolist()):
        single = SpectralSolver(Burgers(grid, nu=nu), 0.05).rollout(u0[i : i + 1], 10)
        assert torch.allclose(batched[i : i + 1], single, atol=1e-14)


@pytest.mark.filterwarnings("ignore:dt=.* exceeds the advective stability limit")
def test_etdrk4_on_sin_x_needs_dt_6e_3_for_1e9_against_general_cole_hopf() -> None:
    # the dt-error table of docs/solvers.md (benchmarks/spectral_cole_hopf_dt.py): u0 = sin x
    # (amplitude 1, not the small Cole-Hopf profile above), ν = 0.1, N = 256, t = 1
    grid = Grid(256, dtype=torch.float64)
    (x,) = grid.coordinates()
    ref = exact.burgers_cole_hopf_quadrature(torch.sin(x).reshape(-1), x.reshape(-1), 1.0, 0.1)
    errs = []
    for dt in (0.1, 0.0125, 0.00625):
        n = round(1 / dt)
        u = SpectralSolver(Burgers(grid, nu=0.1), dt).rollout(torch.sin(x), n, save_every=n)
        errs.append(float((u[0, -1, 0] - ref).abs().max()))
    # measured 3.93e-05, 1.32e-08, 8.36e-10
    assert errs[0] > 1e-5 and errs[1] > 1e-9 > errs[2]
    assert 3.9 < math.log2(errs[1] / errs[2]) < 4.1
