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
    asm = Assembler(space)
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
