"""Linear elasticity: exact patch tests, scikit-fem agreement, gradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import skfem
import torch
from skfem.models.elasticity import lame_parameters, linear_elasticity

from sciml.solvers.fem import (
    Assembler,
    FunctionSpace,
    LinearElasticity,
    SingularSystemError,
    elasticity_stiffness,
    perturb_interior,
    unit_cube,
    unit_square,
)
from sciml.testing import assert_grad_matches_fd


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("dim", [2, 3])
def test_patch_test_reproduces_linear_displacement_exactly(dim: int, degree: int) -> None:
    mesh = perturb_interior(
        unit_square(4) if dim == 2 else unit_cube(2),
        0.4,
        generator=torch.Generator().manual_seed(0),
    )
    gen = torch.Generator().manual_seed(dim)
    a, c = torch.randn(dim, dim, generator=gen), torch.randn(dim, generator=gen)
    problem = LinearElasticity(mesh, degree=degree)
    u = problem.solve(young=3.0, poisson=0.3, g=lambda x: x @ a.T + c)
    exact = problem.space.dof_coordinates() @ a.T + c
    assert (u[0] - exact).abs().max() < 1e-12


def test_stiffness_and_cantilever_solution_match_scikit_fem() -> None:
    mesh = perturb_interior(unit_square(5), 0.3, generator=torch.Generator().manual_seed(0))
    problem = LinearElasticity(mesh, dirichlet=["left"])
    ours = problem.assembler.pattern.to_dense(problem.stiffness(2.0, 0.3))[0].numpy()
    sm = skfem.MeshTri(mesh.points.T.numpy(), mesh.cells.T.numpy())
    basis = skfem.Basis(sm, skfem.ElementVector(skfem.ElementTriP1()))
    ref = skfem.asm(linear_elasticity(*lame_parameters(2.0, 0.3)), basis)
    perm = basis.nodal_dofs.T.reshape(-1)  # ours: node-major (node, component)
    assert np.abs(ours - ref.toarray()[np.ix_(perm, perm)]).max() < 1e-10
    u = problem.solve(torch.tensor([0.0, -1.0]), young=2.0, poisson=0.3)[0].reshape(-1).numpy()
    load = skfem.LinearForm(lambda v, w: -1.0 * v[1]).assemble(basis)
    fixed = basis.get_dofs(lambda x: x[0] < 1e-12).all()
    ref_u = skfem.solve(*skfem.condense(ref, load, D=fixed))
    assert np.abs(u - ref_u[perm]).max() < 1e-10


def test_traction_gradients_wrt_modulus_and_coordinates_match_fd() -> None:
    mesh = unit_square(4)
    problem = LinearElasticity(mesh, dirichlet={"left": None, "bottom": (1,)}, neumann="right")
    traction = torch.tensor([0.3, -1.0])
    young = 1 + torch.rand(mesh.n_cells, generator=torch.Generator().manual_seed(0))

    def compliance(u):
        return u.pow(2).sum()

    assert_grad_matches_fd(
        lambda e: compliance(problem.solve(young=e, traction=traction)), young, eps=1e-4
    )
    assert_grad_matches_fd(
        lambda x: compliance(problem.solve(young=young, traction=traction, points=x)),
        mesh.points,
        eps=1e-5,
    )


def test_rigid_motions_without_support_and_bad_materials_are_refused() -> None:
    mesh = unit_square(2)
    with pytest.raises(SingularSystemError, match="rigid motions"):
        LinearElasticity(mesh, dirichlet=[])
    with pytest.raises(ValueError, match=r"Poisson's ratio must lie in \(-1, 0.5\)"):
        LinearElasticity(mesh).solve(poisson=0.5)
    with pytest.raises(ValueError, match="Young's modulus must be > 0"):
        LinearElasticity(mesh).solve(young=-1.0)
    with pytest.raises(ValueError, match="vector load must have 2 components"):
        LinearElasticity(mesh).solve(torch.ones(3))


@pytest.mark.parametrize("dim", [2, 3])
def test_p1_stiffness_gradients_pass_gradcheck(dim: int) -> None:
    """The P1 element kernel (outer products updated in place) differentiates w.r.t. per-cell
    moduli and node coordinates."""
    mesh = unit_square(2) if dim == 2 else unit_cube(1)
    asm = Assembler(FunctionSpace(mesh, 1, n_components=dim))
    gen = torch.Generator().manual_seed(0)
    young = (1 + torch.rand(mesh.n_cells, generator=gen)).requires_grad_()
    points = mesh.points.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda e, p: elasticity_stiffness(asm, e, 0.3, points=p), (young, points)
    )
