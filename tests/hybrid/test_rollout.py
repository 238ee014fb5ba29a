"""rollout / hybrid_rollout: schedules, the k=1 and k=inf limits, divergence and bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.hybrid import PeriodicConvNet, SolverStep, SurrogateStep, hybrid_rollout, rollout
from sciml.hybrid.rollout import solver_steps
from sciml.solvers.spectral import Burgers, Grid, SpectralSolver


@pytest.fixture
def pair():
    torch.manual_seed(0)
    solver = SolverStep(SpectralSolver(Burgers(Grid(16, dtype=torch.float64), nu=0.1), dt=0.05))
    net = PeriodicConvNet(1, hidden=4, zero_last=False, dtype=torch.float64)
    with torch.no_grad():
        net.layers[-1].weight.mul_(0.01)
    x = torch.arange(16, dtype=torch.float64) * (2 * math.pi / 16)
    u0 = torch.stack([torch.sin(x), 0.5 * torch.cos(x)])[:, None]
    return solver, SurrogateStep(net), u0


def test_rollout_layout(pair):
    solver, _, u0 = pair
    traj = rollout(solver, u0, 4)
    assert traj.shape == (2, 5, 1, 16)
    torch.testing.assert_close(traj[:, 0], u0, rtol=0, atol=0)
    torch.testing.assert_close(traj[:, 2], solver(solver(u0)), rtol=0, atol=0)


def test_k1_is_the_pure_solver_rollout(pair):
    solver, surrogate, u0 = pair
    torch.testing.assert_close(
        hybrid_rollout(solver, surrogate, u0, 7, solver_every=1),
        rollout(solver, u0, 7),
        rtol=0,
        atol=0,
    )
    # ... and the solver's own rollout, to round-off
    own = solver.solver.rollout(u0, 7)
    torch.testing.assert_close(rollout(solver, u0, 7), own, rtol=1e-13, atol=1e-13)


def test_k_inf_is_the_pure_surrogate_rollout(pair):
    solver, surrogate, u0 = pair
    torch.testing.assert_close(
        hybrid_rollout(solver, surrogate, u0, 7, solver_every=math.inf),
        rollout(surrogate, u0, 7),
        rtol=0,
        atol=0,
    )


def test_k3_interleaves(pair):
    solver, surrogate, u0 = pair
    traj = hybrid_rollout(solver, surrogate, u0, 4, solver_every=3)
    u = surrogate(surrogate(u0))
    torch.testing.assert_close(traj[:, 2], u, rtol=0, atol=0)
    torch.testing.assert_close(traj[:, 3], solver(u), rtol=0, atol=0)
    torch.testing.assert_close(traj[:, 4], surrogate(solver(u)), rtol=0, atol=0)
    assert solver_steps(6, 3) == [False, False, True, False, False, True]


@pytest.mark.parametrize("k", [0, -2, 2.5, True, "2", None])
def test_bad_solver_every(pair, k):
    solver, surrogate, u0 = pair
    with pytest.raises(ValueError, match="solver_every must be a positive integer or math.inf"):
        hybrid_rollout(solver, surrogate, u0, 3, solver_every=k)


@pytest.mark.parametrize("n", [0, -1, 2.0])
def test_bad_n_steps(pair, n):
    solver, _, u0 = pair
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        rollout(solver, u0, n)


def test_bad_initial_state(pair):
    solver, _, u0 = pair
    with pytest.raises(ValueError, match="NaN or Inf"):
        rollout(solver, torch.full_like(u0, float("nan")), 2)
    with pytest.raises(ValueError, match=r"real tensor \(B, C, \*N\)"):
        rollout(solver, u0[0, 0], 2)


def test_divergence_is_reported_with_its_step(pair):
    _, _, u0 = pair
    calls = []

    def blows_up(u):
        calls.append(1)
        return u * (float("inf") if len(calls) == 2 else 1.0)

    with pytest.raises(FloatingPointError, match="first at step 2"):
        rollout(blows_up, u0, 3)
