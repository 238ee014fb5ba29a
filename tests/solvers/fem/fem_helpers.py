"""Helpers shared by the FE tests (a uniquely named module: test folders are not packages)."""

from __future__ import annotations

import math

import numpy as np
import skfem
import torch
from scipy.spatial import cKDTree

from sciml.solvers.fem import FunctionSpace

PI = math.pi


def sine(x: torch.Tensor) -> torch.Tensor:
    """``Π sin(π x_i)``: zero on the boundary of the unit square / cube."""
    return torch.sin(PI * x).prod(-1)


def grad_sine(x: torch.Tensor) -> torch.Tensor:
    s, c = torch.sin(PI * x), torch.cos(PI * x)
    d = x.shape[-1]
    cols = []
    for i in range(d):
        others = [s[..., j] for j in range(d) if j != i]
        cols.append(PI * c[..., i] * torch.stack(others, -1).prod(-1))
    return torch.stack(cols, -1)


SKFEM = {
    (2, 1): skfem.ElementTriP1,
    (2, 2): skfem.ElementTriP2,
    (3, 1): skfem.ElementTetP1,
    (3, 2): skfem.ElementTetP2,
}


def skfem_basis(mesh, degree: int) -> skfem.Basis:
    cls = skfem.MeshTri if mesh.dim == 2 else skfem.MeshTet
    m = cls(mesh.points.T.numpy(), mesh.cells.T.numpy())
    return skfem.Basis(m, SKFEM[mesh.dim, degree](), intorder=2 * degree + 1)


def dof_permutation(space: FunctionSpace, basis: skfem.Basis) -> np.ndarray:
    """Index of each of our dofs among scikit-fem's (matched by dof location)."""
    dist, idx = cKDTree(basis.doflocs.T).query(space.dof_coordinates().numpy())
    assert dist.max() < 1e-12
    return idx
