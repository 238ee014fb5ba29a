"""Darcy inverse problem through the FEM adjoint: recovery, gradients, penalty, bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.hybrid import DarcyInverseProblem, minimize_lbfgs, smoothness_penalty
from sciml.solvers.fem import Darcy, unit_square


def setup(n: int = 6, **kwargs):
    mesh = unit_square(n, dtype=torch.float64)
    x = mesh.points
    m_true = 0.8 * torch.sin(math.pi * x[:, 0]) * torch.cos(math.pi * x[:, 1]) + 0.3 * x[:, 0]
    sources = torch.stack([torch.ones_like(x[:, 0]), 1 + x[:, 0], 1 + x[:, 1]])
    interior = torch.ones(mesh.n_points, dtype=torch.bool)
    interior[mesh.boundary_nodes()] = False
    options = {"noise_std": 1e-3, "reg_weight": 1e-4, **kwargs}
    problem = DarcyInverseProblem(Darcy(mesh), sources, interior.nonzero()[:, 0], **options)
    return problem, m_true


def test_recovers_a_known_field_three_times_better_than_the_initial_guess():
    problem, m_true = setup()
    with torch.no_grad():
        data = problem.observe(m_true)
    result = problem.recover(data, n_iters=60)
    guess_error = m_true.norm()  # the initial guess m = 0 (kappa = 1)
    error = (result.params - m_true).norm()
    assert error < guess_error / 3, (error / guess_error).item()
    assert result.history[-1] < 1e-3 * result.history[0]
    with torch.no_grad():
        fit = (problem.observe(result.params) - data).abs().max()
    assert fit < 1e-2 * data.abs().max()


def test_objective_gradient_is_the_adjoint_gradient():
    problem, m_true = setup(n=3, reg_weight=0.1)
    with torch.no_grad():
        data = problem.observe(m_true) + 1e-3
    m = (0.5 * m_true).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: problem.objective(v, data), (m,), eps=1e-6, atol=1e-6)


def test_smoothness_penalty_of_a_linear_field():
    # P1 interpolates x exactly: 1/2 int |grad x|^2 over the unit square is 1/2
    mesh = unit_square(5, dtype=torch.float64)
    penalty = smoothness_penalty(Darcy(mesh))
    torch.testing.assert_close(penalty(mesh.points[:, 0]), torch.tensor(0.5, dtype=torch.float64))
    assert abs(float(penalty(torch.ones(mesh.n_points, dtype=torch.float64)))) < 1e-13
    # P2 solvers use the P1 matrix for the nodal unknown
    p2 = smoothness_penalty(Darcy(mesh, degree=2))
    torch.testing.assert_close(p2(mesh.points[:, 1]), torch.tensor(0.5, dtype=torch.float64))


def test_minimize_lbfgs_on_a_quadratic():
    target = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    result = minimize_lbfgs(
        lambda x: (x - target).square().sum(), torch.zeros(3, dtype=torch.float64)
    )
    torch.testing.assert_close(result.params, target)
    with pytest.raises(ValueError, match="n_iters must be a positive integer"):
        minimize_lbfgs(lambda x: x.sum(), torch.zeros(1), n_iters=0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"observed": torch.tensor([0, 10_000])}, r"observed must be .* in \[0, 49\)"),
        ({"observed": torch.tensor([], dtype=torch.long)}, "observed must be a non-empty"),
        ({"observed": torch.tensor([0.5])}, "observed must be a non-empty 1D integer"),
        ({"noise_std": 0.0}, "noise_std must be > 0"),
        ({"reg_weight": -1.0}, "reg_weight must be >= 0"),
        ({"sources": torch.ones(49)}, r"sources must be a tensor \(S, n_points\)"),
    ],
)
def test_bad_arguments(change, match):
    mesh = unit_square(6, dtype=torch.float64)
    args = {
        "sources": torch.ones(2, 49, dtype=torch.float64),
        "observed": torch.tensor([10, 20]),
        "noise_std": 0.01,
        "reg_weight": 1.0,
        **change,
    }
    with pytest.raises(ValueError, match=match):
        DarcyInverseProblem(Darcy(mesh), args.pop("sources"), args.pop("observed"), **args)


def test_bad_shapes():
    problem, _ = setup()
    with pytest.raises(ValueError, match=r"log_kappa must have shape \(49,\)"):
        problem.pressures(torch.zeros(48, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"data must have shape \(S, K\) = \(3, 25\)"):
        problem.recover(torch.zeros(3, 24, dtype=torch.float64))
    with pytest.raises(TypeError, match="Darcy solver"):
        DarcyInverseProblem(
            object(), torch.ones(1, 4), torch.tensor([0]), noise_std=1, reg_weight=0
        )
