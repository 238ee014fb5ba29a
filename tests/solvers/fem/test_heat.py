"""Heat equation: θ-scheme orders in time, differentiable rollouts, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from fem_helpers import sine

from sciml.solvers.fem import HeatEquation, unit_square
from sciml.testing import assert_convergence_order, assert_grad_matches_fd

T_END = 0.1


def final_state(mesh, dt: float, theta: float) -> torch.Tensor:
    heat = HeatEquation(mesh, dt, theta=theta)
    u0 = heat.space.interpolate(sine)
    steps = round(T_END / dt)
    f = lambda x, t: math.exp(-t) * x[..., 0]  # noqa: E731
    return heat.rollout(u0, steps, save_every=steps, f=f)[:, -1]


@pytest.mark.parametrize(("theta", "order"), [(1.0, 1.0), (0.5, 2.0)], ids=["euler", "cn"])
def test_theta_scheme_converges_in_time_at_its_order(theta: float, order: float) -> None:
    mesh = unit_square(6)
    reference = final_state(mesh, T_END / 320, theta)
    dts = [T_END / 10, T_END / 20, T_END / 40]
    errs = [float((final_state(mesh, dt, theta) - reference).abs().max()) for dt in dts]
    assert_convergence_order(dts, errs, order, tol=0.1)


def test_rollout_shapes_batches_and_steady_state() -> None:
    mesh = unit_square(4)
    heat = HeatEquation(mesh, 0.5, theta=1.0)
    u0 = torch.zeros(3, mesh.n_points)
    traj = heat.rollout(u0, 40, save_every=10, kappa=torch.tensor([[1.0], [2.0], [4.0]]), f=1.0)
    assert traj.shape == (3, 5, mesh.n_points)
    # backward Euler reaches the steady Poisson solution u = u_1 / κ
    assert torch.allclose(traj[1, -1] * 2, traj[0, -1], atol=1e-6)
    assert torch.allclose(traj[2, -1] * 4, traj[0, -1], atol=1e-6)
    one = heat.step(u0[:1], kappa=1.0, f=1.0)
    assert torch.allclose(one, heat.rollout(u0[:1], 1, f=1.0)[:, -1], atol=1e-14)


def test_rollout_is_differentiable_wrt_initial_state_and_conductivity() -> None:
    mesh = unit_square(4)
    heat = HeatEquation(mesh, 0.01, theta=0.5)
    u0 = heat.space.interpolate(sine)
    kappa = 1 + torch.rand(mesh.n_points, generator=torch.Generator().manual_seed(0))
    assert_grad_matches_fd(lambda k: heat.rollout(u0, 4, kappa=k)[:, -1].sum(), kappa, eps=1e-5)
    assert_grad_matches_fd(lambda u: heat.rollout(u, 4, kappa=kappa)[:, -1].pow(2).sum(), u0)
    g = torch.rand(mesh.n_points, generator=torch.Generator().manual_seed(1))
    assert_grad_matches_fd(lambda gg: heat.rollout(u0, 3, g=gg)[:, -1].sum(), g)


def test_bad_parameters_are_refused() -> None:
    mesh = unit_square(2)
    with pytest.raises(ValueError, match=r"theta must lie in \[0, 1\]"):
        HeatEquation(mesh, 0.1, theta=1.5)
    with pytest.raises(ValueError, match="dt must be > 0"):
        HeatEquation(mesh, 0.0)
    with pytest.raises(ValueError, match="u0 has 4 values, expected 9"):
        HeatEquation(mesh, 0.1).rollout(torch.zeros(4), 2)
