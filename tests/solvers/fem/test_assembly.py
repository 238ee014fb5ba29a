"""Assembly against scikit-fem on the same mesh, batching, devices/dtypes and size errors."""

from __future__ import annotations

import numpy as np
import pytest
import skfem
import torch
from fem_helpers import dof_permutation, skfem_basis
from skfem.helpers import dot, grad

from sciml.solvers.fem import (
    Assembler,
    FieldSizeError,
    FunctionSpace,
    SparsePattern,
    perturb_interior,
    unit_cube,
    unit_square,
)


@pytest.mark.parametrize(("dim", "degree"), [(2, 1), (2, 2), (3, 1), (3, 2)])
def test_stiffness_mass_and_load_match_scikit_fem(dim: int, degree: int) -> None:
    mesh = perturb_interior(
        unit_square(5) if dim == 2 else unit_cube(2),
        0.3,
        generator=torch.Generator().manual_seed(0),
    )
    space = FunctionSpace(mesh, degree)
    asm = Assembler(space, quad_degree=2 * degree + 1)  # functions of x: the same rule as skfem
    kappa = lambda x: 1 + x[..., 0] ** 2 + x[..., 1]  # noqa: E731
    source = lambda x: 1 + x[..., 0] * x[..., 1]  # noqa: E731 (both rules are exact)
    k = asm.pattern.to_dense(asm.stiffness(kappa))[0].numpy()
    m = asm.pattern.to_dense(asm.mass(2.0))[0].numpy()
    f = asm.load(source)[0].numpy()
    basis = skfem_basis(mesh, degree)

    @skfem.BilinearForm
    def stiff(u, v, w):
        return (1 + w.x[0] ** 2 + w.x[1]) * dot(grad(u), grad(v))

    ks = stiff.assemble(basis).toarray()
    ms = skfem.BilinearForm(lambda u, v, w: 2.0 * u * v).assemble(basis).toarray()
    fs = skfem.LinearForm(lambda v, w: (1 + w.x[0] * w.x[1]) * v).assemble(basis)
    p = dof_permutation(space, basis)
    assert np.abs(k - ks[np.ix_(p, p)]).max() < 1e-10
    assert np.abs(m - ms[np.ix_(p, p)]).max() < 1e-10
    assert np.abs(f - fs[p]).max() < 1e-10


@pytest.mark.parametrize(("dim", "degree"), [(2, 1), (2, 2), (3, 1), (3, 2)])
def test_default_rules_are_the_lowest_exact_ones(dim: int, degree: int) -> None:
    """Nodal κ and f (P1), per-cell ρ (P0): each form's own rule is exact (vs skfem, high order)."""
    mesh = perturb_interior(
        unit_square(4) if dim == 2 else unit_cube(2),
        0.3,
        generator=torch.Generator().manual_seed(1),
    )
    gen = torch.Generator().manual_seed(2)
    kappa = 1 + torch.rand(mesh.n_points, generator=gen)
    rho = 1 + torch.rand(mesh.n_cells, generator=gen)
    f = torch.rand(mesh.n_points, generator=gen)
    space = FunctionSpace(mesh, degree)
    asm = Assembler(space)
    p = degree
    assert asm.form_degree(2, 2, 1.0) == 2 * p - 2  # P1 stiffness, constant κ: one point
    assert asm.form_degree(2, 2, kappa) == 2 * p - 1
    assert asm.form_degree(2, 0, rho) == 2 * p
    assert asm.form_degree(1, 0, f) == p + 1
    n_points = asm.quadrature(degree=asm.form_degree(2, 2, 1.0)).wdet.shape[1]
    assert n_points == (1 if degree == 1 else dim + 1)
    basis = skfem_basis(mesh, degree)
    basis = skfem.Basis(basis.mesh, basis.elem, intorder=2 * degree + 2)  # exact for all three
    p1 = basis.with_element(skfem.ElementTriP1() if dim == 2 else skfem.ElementTetP1())
    p0 = basis.with_element(skfem.ElementTriP0() if dim == 2 else skfem.ElementTetP0())
    kq, rq, fq = (
        p1.interpolate(kappa.numpy()),
        p0.interpolate(rho.numpy()),
        p1.interpolate(f.numpy()),
    )
    ks = skfem.BilinearForm(lambda u, v, w: w.k * dot(grad(u), grad(v))).assemble(basis, k=kq)
    ms = skfem.BilinearForm(lambda u, v, w: w.r * u * v).assemble(basis, r=rq)
    fs = skfem.LinearForm(lambda v, w: w.f * v).assemble(basis, f=fq)
    perm = dof_permutation(space, basis)
    dense = lambda values: asm.pattern.to_dense(values)[0].numpy()  # noqa: E731
    assert np.abs(dense(asm.stiffness(kappa)) - ks.toarray()[np.ix_(perm, perm)]).max() < 1e-12
    assert np.abs(dense(asm.mass(rho)) - ms.toarray()[np.ix_(perm, perm)]).max() < 1e-12
    assert np.abs(asm.load(f)[0].numpy() - fs[perm]).max() < 1e-12
    # a constant κ on the one-point rule equals the nodal field of that constant
    assert torch.allclose(asm.stiffness(2.0), asm.stiffness(torch.full_like(kappa, 2.0)))


def test_batched_coefficients_give_the_separate_systems() -> None:
    mesh = unit_square(4)
    asm = Assembler(FunctionSpace(mesh, 1))
    kappas = 1 + torch.rand(3, mesh.n_points, generator=torch.Generator().manual_seed(0))
    batched = asm.stiffness(kappas)
    assert batched.shape == (3, asm.pattern.nnz)
    for b in range(3):
        assert torch.allclose(batched[b], asm.stiffness(kappas[b])[0], atol=1e-14)
    per_cell = asm.stiffness(torch.full((2, mesh.n_cells), 2.0))
    assert torch.allclose(per_cell, 2 * asm.stiffness(1.0).expand(2, -1), atol=1e-14)


def test_pattern_is_computed_once_and_every_local_entry_lands_in_it() -> None:
    space = FunctionSpace(unit_square(3), 2)
    asm = Assembler(space)
    assert asm.k_map.shape == (space.mesh.n_cells * 36,)
    keys = asm.pattern.rows * space.n_dofs + asm.pattern.cols
    assert bool((keys[1:] > keys[:-1]).all())  # unique and row-major sorted
    total = asm.stiffness(1.0).sum()
    assert abs(float(total)) < 1e-12  # rows of a stiffness matrix sum to zero


def test_float32_assembly_agrees_with_float64() -> None:
    mesh = unit_square(4)
    a64 = Assembler(FunctionSpace(mesh, 2)).mass(1.0)
    a32 = Assembler(FunctionSpace(mesh.to(dtype=torch.float32), 2)).mass(1.0)
    assert a32.dtype == torch.float32
    assert torch.allclose(a32.double(), a64, atol=1e-7)


def test_mismatched_field_size_is_an_error() -> None:
    mesh = unit_square(3)
    asm = Assembler(FunctionSpace(mesh, 1))
    with pytest.raises(FieldSizeError, match="kappa has 7 values per sample; expected 16"):
        asm.stiffness(torch.ones(7))


@pytest.mark.parametrize(
    ("dim", "degree", "components"), [(2, 1, 1), (2, 2, 2), (3, 1, 3), (3, 2, 1)]
)
def test_pattern_equals_the_unique_of_all_local_entries(dim, degree, components) -> None:
    space = FunctionSpace(unit_square(3) if dim == 2 else unit_cube(2), degree, components)
    pattern, k_map = SparsePattern.from_cell_dofs(
        space.scalar_cell_dofs, space.n_scalar_dofs, components
    )
    dofs, n = space.cell_dofs, space.n_dofs
    k = dofs.shape[1]
    rows = dofs[:, :, None].expand(-1, k, k).reshape(-1)
    cols = dofs[:, None, :].expand(-1, k, k).reshape(-1)
    keys, inverse = torch.unique(rows * n + cols, return_inverse=True)
    assert torch.equal(pattern.rows, keys // n) and torch.equal(pattern.cols, keys % n)
    assert torch.equal(k_map, inverse)
    # the transpose map the builder hands over equals the one found by sorting the transposed keys
    assert pattern.transpose is not None
    searched = SparsePattern(pattern.rows, pattern.cols, pattern.n).transpose_positions
    assert torch.equal(pattern.transpose, searched)
