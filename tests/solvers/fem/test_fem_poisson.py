"""Poisson / Darcy: manufactured-solution rates, scikit-fem agreement, adjoint gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import skfem
import torch
from fem_helpers import PI, dof_permutation, grad_sine, sine, skfem_basis
from scipy.sparse.linalg import spsolve
from skfem.helpers import dot, grad

from sciml.solvers.fem import (
    Darcy,
    FieldSizeError,
    PermeabilityError,
    Poisson,
    SingularSystemError,
    SparseSolver,
    h1_seminorm_error,
    l2_error,
    perturb_interior,
    unit_cube,
    unit_square,
)
from sciml.testing import assert_convergence_order, assert_grad_matches_fd


def errors(mesh_fn, ns, degree, solver=None):
    l2, h1 = [], []
    for n in ns:
        problem = Poisson(mesh_fn(n), degree=degree, solver=solver)
        d = problem.mesh.dim
        u = problem.solve(lambda x, d=d: d * PI**2 * sine(x))
        l2.append(float(l2_error(problem.space, u, sine)))
        h1.append(float(h1_seminorm_error(problem.space, u, grad_sine)))
    return [1.0 / n for n in ns], l2, h1


@pytest.mark.parametrize(
    ("mesh_fn", "degree", "ns"),
    [
        (unit_square, 1, [8, 16, 32]),
        (unit_square, 2, [4, 8, 16]),
        (unit_cube, 1, [6, 12]),
        (unit_cube, 2, [3, 6]),
    ],
    ids=["2d-P1", "2d-P2", "3d-P1", "3d-P2"],
)
def test_manufactured_solution_converges_at_the_optimal_rates(mesh_fn, degree, ns) -> None:
    h, l2, h1 = errors(mesh_fn, ns, degree)
    assert_convergence_order(h, l2, degree + 1, tol=0.15)
    assert_convergence_order(h, h1, degree, tol=0.15)
    if mesh_fn is unit_square and degree == 1:  # scikit-fem's ConvergenceTriP1 bounds
        assert l2[-1] < 0.008 and h1[-1] < 0.3


@pytest.mark.parametrize("mesh_fn", [unit_square, unit_cube], ids=["2d", "3d"])
def test_optimal_rates_hold_with_the_amg_preconditioned_iterative_solver(mesh_fn) -> None:
    solver = SparseSolver("amg", tol=1e-10)
    ns = [8, 16, 32] if mesh_fn is unit_square else [6, 12]
    h, l2, h1 = errors(mesh_fn, ns, 1, solver)
    assert solver.last_info.method == "amg" and solver.last_info.iterations >= 1
    assert bool((solver.last_info.residual <= 1e-10).all())
    assert_convergence_order(h, l2, 2, tol=0.15)
    assert_convergence_order(h, h1, 1, tol=0.15)


def test_mixed_neumann_robin_problem_converges() -> None:
    """u = exp(x) sin(πy)/π + x y, Dirichlet left, Neumann top/bottom, Robin right (P2)."""

    def u(x):
        return torch.exp(x[..., 0]) * torch.sin(PI * x[..., 1]) / PI + x[..., 0] * x[..., 1]

    def du(x):
        ex, s, c = torch.exp(x[..., 0]), torch.sin(PI * x[..., 1]), torch.cos(PI * x[..., 1])
        return torch.stack([ex * s / PI + x[..., 1], ex * c + x[..., 0]], -1)

    def f(x):  # -Δu
        return (PI**2 - 1) * torch.exp(x[..., 0]) * torch.sin(PI * x[..., 1]) / PI

    def h(x):  # ∂u/∂n on top (n = +y) and bottom (n = -y)
        return torch.where(x[..., 1] > 0.5, du(x)[..., 1], -du(x)[..., 1])

    alpha = 2.0
    hs, l2 = [], []
    for n in (4, 8, 16):
        problem = Poisson(
            unit_square(n), degree=2, dirichlet="left", neumann=["top", "bottom"], robin="right"
        )
        uh = problem.solve(f, g=u, h=h, alpha=alpha, g_robin=lambda x: u(x) + du(x)[..., 0] / alpha)
        hs.append(1.0 / n)
        l2.append(float(l2_error(problem.space, uh, u)))
    assert_convergence_order(hs, l2, 3.0, tol=0.15)


@pytest.mark.parametrize("degree", [1, 2])
def test_solution_matches_scikit_fem_on_the_same_mesh(degree: int) -> None:
    mesh = perturb_interior(unit_square(6), 0.3, generator=torch.Generator().manual_seed(0))
    kappa = lambda x: 1 + x[..., 0] * x[..., 1]  # noqa: E731
    problem = Poisson(mesh, degree=degree, quad_degree=2 * degree + 1)
    u = problem.solve(1.0, kappa=kappa)[0].numpy()
    basis = skfem_basis(mesh, degree)

    @skfem.BilinearForm
    def a(u, v, w):
        return (1 + w.x[0] * w.x[1]) * dot(grad(u), grad(v))

    a_mat = a.assemble(basis)
    b = skfem.LinearForm(lambda v, w: 1.0 * v).assemble(basis)
    ref = np.zeros(basis.N)
    ref_i = skfem.condense(a_mat, b, D=basis.get_dofs())
    ref[ref_i[-1]] = spsolve(ref_i[0], ref_i[1])
    assert np.abs(u - ref[dof_permutation(problem.space, basis)]).max() < 1e-10


def test_batched_darcy_equals_one_by_one_and_cg_equals_direct() -> None:
    mesh = unit_square(8)
    gen = torch.Generator().manual_seed(0)
    kappa = torch.where(torch.rand(4, mesh.n_points, generator=gen) > 0.5, 12.0, 3.0)
    direct = Darcy(mesh).solve(1.0, kappa=kappa)
    cg_solver = SparseSolver("cg", tol=1e-12)
    cg = Darcy(mesh, solver=cg_solver).solve(1.0, kappa=kappa)
    assert direct.shape == (4, mesh.n_points)
    assert torch.allclose(direct, cg, atol=1e-10)
    assert cg_solver.last_info.iterations > 0
    for b in range(4):
        assert torch.allclose(Darcy(mesh).solve(1.0, kappa=kappa[b]), direct[b : b + 1], atol=1e-13)


@pytest.mark.parametrize("method", ["direct", "cg", "amg", "cholesky"])
def test_adjoint_gradients_match_finite_differences(method: str) -> None:
    mesh = unit_square(5)
    problem = Darcy(mesh, solver=SparseSolver(method, tol=1e-13))
    gen = torch.Generator().manual_seed(0)
    k0 = 1 + torch.rand(2, mesh.n_points, generator=gen)
    w = torch.rand(mesh.n_points, generator=gen)
    loss = lambda u: (u * w).sum()  # noqa: E731
    assert_grad_matches_fd(lambda k: loss(problem.solve(1.0, kappa=k)), k0, eps=1e-5)
    assert_grad_matches_fd(
        lambda f: loss(problem.solve(f, kappa=k0)), torch.rand(2, mesh.n_points, generator=gen)
    )
    assert_grad_matches_fd(
        lambda g: loss(problem.solve(1.0, kappa=k0, g=g)), torch.rand(mesh.n_points, generator=gen)
    )
    smooth = lambda y: 1 + y[..., 1] ** 2  # noqa: E731
    assert_grad_matches_fd(
        lambda x: loss(problem.solve(lambda y: 1 + y[..., 0], kappa=smooth, points=x)),
        mesh.points,
        eps=1e-5,
    )


def test_gradcheck_through_assembly_and_solve() -> None:
    mesh = unit_square(3)
    problem = Poisson(mesh, degree=2, dirichlet="left", robin="right", neumann=["top", "bottom"])
    kappa = (
        1 + torch.rand(mesh.n_cells, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    alpha = torch.tensor([0.7, 1.3], requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda k, a: problem.solve(1.0, kappa=k, alpha=a, g_robin=0.5, h=0.2), (kappa, alpha)
    )


def test_pure_neumann_problem_is_refused() -> None:
    with pytest.raises(SingularSystemError, match="pure Neumann problem is singular"):
        Poisson(unit_square(3), dirichlet=(), neumann="left")


def test_non_positive_permeability_is_refused() -> None:
    mesh = unit_square(4)
    kappa = torch.ones(2, mesh.n_cells)
    kappa[1, 5] = -1.0
    with pytest.raises(PermeabilityError, match="sample 1, cell 5 has -1"):
        Darcy(mesh).solve(kappa=kappa)
    with pytest.raises(PermeabilityError, match="finite and > 0"):
        Darcy(mesh).solve(kappa=0.0)
    with pytest.raises(PermeabilityError, match="finite and > 0"):
        Darcy(mesh).solve(kappa=torch.full((mesh.n_points,), float("nan")))


def test_mismatched_field_and_mesh_sizes_are_refused() -> None:
    mesh = unit_square(4)
    with pytest.raises(FieldSizeError, match="permeability has 10 values per sample"):
        Darcy(mesh).solve(kappa=torch.ones(3, 10))
    with pytest.raises(ValueError, match="Dirichlet data has 3 values per sample, expected 25"):
        Poisson(mesh).solve(1.0, g=torch.ones(3))


@pytest.mark.parametrize("method", ["direct", "cg", "cholesky"])
def test_float32_darcy_agrees_with_float64(method: str) -> None:
    mesh = unit_square(16)
    gen = torch.Generator().manual_seed(0)
    kappa = torch.where(torch.rand(2, mesh.n_points, generator=gen) > 0.5, 12.0, 3.0)
    u64 = Darcy(mesh).solve(1.0, kappa=kappa)
    u32 = Darcy(mesh.to(dtype=torch.float32), solver=SparseSolver(method, tol=1e-5)).solve(
        1.0, kappa=kappa.float()
    )
    assert u32.dtype == torch.float32
    assert float((u32.double() - u64).abs().max() / u64.abs().max()) < 1e-4


def test_robin_boundary_alone_fixes_the_constant() -> None:
    """-Δu = 0 with ∂u/∂n + α u = α·3 everywhere has the solution u ≡ 3."""
    problem = Poisson(unit_square(4), dirichlet=(), robin=None)
    u = problem.solve(0.0, alpha=2.0, g_robin=3.0)
    assert torch.allclose(u, torch.full_like(u, 3.0), atol=1e-12)


def test_mixed_boundary_problem_in_3d_converges_with_p2() -> None:
    """u = eˣ cos y + z², Dirichlet on the sides, Neumann on top, Robin on the bottom."""

    def u(x):
        return torch.exp(x[..., 0]) * torch.cos(x[..., 1]) + x[..., 2] ** 2

    def du_dz(x):
        return 2 * x[..., 2]

    hs, l2 = [], []
    for n in (2, 4, 8):
        problem = Poisson(
            unit_cube(n),
            degree=2,
            dirichlet=["left", "right", "front", "back"],
            neumann="top",
            robin="bottom",
        )
        uh = problem.solve(
            lambda x: torch.full(x.shape[:-1], -2.0),  # -Δu
            g=u,
            h=du_dz,  # n = +z on top
            alpha=3.0,
            g_robin=lambda x: u(x) - du_dz(x) / 3.0,  # n = -z on the bottom
        )
        hs.append(1.0 / n)
        l2.append(float(l2_error(problem.space, uh, u)))
    assert_convergence_order(hs, l2, 3.0, tol=0.15)
