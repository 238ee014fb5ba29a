"""Nonlinear diffusion by Newton: rates, quadratic convergence, implicit gradients, errors."""

from __future__ import annotations

import pytest
import torch
from fem_helpers import PI, grad_sine, sine

from sciml.solvers.fem import (
    ConvergenceError,
    NonlinearDiffusion,
    SingularSystemError,
    h1_seminorm_error,
    l2_error,
    unit_square,
)
from sciml.testing import assert_convergence_order, assert_grad_matches_fd

BETA = 1.0


def source(x):
    """f = -∇·((1 + β u²)∇u) for u = sin(πx) sin(πy)."""
    u, gu = sine(x), grad_sine(x)
    return (1 + BETA * u**2) * 2 * PI**2 * u - 2 * BETA * u * (gu**2).sum(-1)


@pytest.mark.parametrize(("degree", "ns"), [(1, [8, 16, 32]), (2, [4, 8, 16])])
def test_newton_solution_converges_at_the_optimal_rates(degree: int, ns: list[int]) -> None:
    l2, h1 = [], []
    for n in ns:
        problem = NonlinearDiffusion(unit_square(n), degree=degree, beta=BETA)
        u = problem.solve(source)
        l2.append(float(l2_error(problem.space, u, sine)))
        h1.append(float(h1_seminorm_error(problem.space, u, grad_sine)))
        # quadratic convergence: the last step above round-off squares the residual
        r = problem.history
        above = [(a, b) for a, b in zip(r, r[1:]) if b > 1e-13]
        assert len(r) <= 8 and r[-1] < 1e-10 and above[-1][1] < 10 * above[-1][0] ** 2
    h = [1.0 / n for n in ns]
    assert_convergence_order(h, l2, degree + 1, tol=0.15)
    assert_convergence_order(h, h1, degree, tol=0.15)


def test_implicit_gradients_match_finite_differences() -> None:
    mesh = unit_square(5)
    problem = NonlinearDiffusion(
        mesh, beta=2.0, dirichlet="left", neumann=["right", "top", "bottom"]
    )
    gen = torch.Generator().manual_seed(0)
    w = torch.rand(mesh.n_points, generator=gen)
    loss = lambda u: (u * w).sum()  # noqa: E731
    kappa = 1 + torch.rand(2, mesh.n_points, generator=gen)
    assert_grad_matches_fd(lambda k: loss(problem.solve(1.0, kappa=k, h=0.3)), kappa, eps=1e-5)
    f = torch.rand(mesh.n_points, generator=gen)
    assert_grad_matches_fd(lambda s: loss(problem.solve(s, kappa=1.5)), f, eps=1e-5)
    g = torch.rand(mesh.n_points, generator=gen)
    assert_grad_matches_fd(lambda gg: loss(problem.solve(1.0, g=gg)), g, eps=1e-5)
    assert_grad_matches_fd(
        lambda x: loss(problem.solve(1.0, h=0.5, points=x)), mesh.points, eps=1e-5
    )


def test_gradcheck_of_the_implicit_solution() -> None:
    mesh = unit_square(3)
    problem = NonlinearDiffusion(mesh, beta=1.0)
    kappa = (
        1 + torch.rand(mesh.n_points, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    assert torch.autograd.gradcheck(lambda k: problem.solve(2.0, kappa=k), (kappa,))


def test_newton_failure_reports_residuals_and_singular_setup_is_refused() -> None:
    problem = NonlinearDiffusion(unit_square(4), beta=5.0, max_iter=1)
    with pytest.raises(
        ConvergenceError, match=r"Newton did not converge in 1 iterations: residual"
    ):
        problem.solve(10.0)
    with pytest.raises(SingularSystemError, match="pure Neumann"):
        NonlinearDiffusion(unit_square(2), dirichlet=(), neumann="left")
