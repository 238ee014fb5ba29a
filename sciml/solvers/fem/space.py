"""Finite-element spaces: the degree-of-freedom map of P1/P2 (scalar or vector) on a mesh.

A :class:`FunctionSpace` numbers the global dofs once per mesh and element — vertices first
(dof ``i`` = node ``i``), then, for P2, one dof per mesh edge — and evaluates fields at quadrature
points. Vector spaces (``n_components = c``) interleave components: dof ``c·s + k`` is
component ``k`` of scalar dof ``s``. Geometry is affine (straight-sided simplices), so
``∇_x N = J^{-T} ∇_ξ N`` with the constant cell Jacobian ``J = [x_1 - x_0, …, x_d - x_0]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from sciml.solvers.fem.elements import LagrangeElement, lagrange
from sciml.solvers.fem.mesh import Mesh
from sciml.solvers.fem.quadrature import simplex_quadrature
from sciml.solvers.fem.sorting import unique_keys

__all__ = ["FunctionSpace", "QuadratureData", "FieldSizeError", "affine_det_inv"]

#: what a coefficient may be: a number, a tensor of nodal / dof / per-cell values
#: (optionally with a leading batch axis), or a function of physical coordinates ``(..., d)``
Coefficient = float | Tensor | Callable[[Tensor], Tensor]


def affine_det_inv(jac: Tensor) -> tuple[Tensor, Tensor]:
    """Determinants ``(E,)`` and inverses ``(E, d, d)`` of cell Jacobians ``(E, d, d)``, d ≤ 3.

    Closed-form cofactor expressions: one elementwise pass instead of a batched LAPACK call per
    tiny matrix (several times faster on 1e6 cells). Degenerate cells give ``inf``/``nan``
    entries; meshes are validated against them at construction.
    """
    d = jac.shape[-1]
    if d == 1:
        det = jac[:, 0, 0]
        return det, (1 / det)[:, None, None]
    if d == 2:
        a, b, c, e = jac[:, 0, 0], jac[:, 0, 1], jac[:, 1, 0], jac[:, 1, 1]
        det = a * e - b * c
        adj = torch.stack([e, -b, -c, a], dim=-1).reshape(-1, 2, 2)
        return det, adj / det[:, None, None]
    if d != 3:
        raise ValueError(f"cell Jacobians must be 1×1, 2×2 or 3×3, got {d}×{d}")
    cols = jac.transpose(1, 2)  # contiguous when jac is the transpose of the edge vectors
    c0, c1, c2 = cols[:, 0], cols[:, 1], cols[:, 2]  # columns of J, (E, 3)
    # rows of the inverse are the cross products of the other two columns, over det
    r0, r1, r2 = (
        torch.cross(c1, c2, dim=-1),
        torch.cross(c2, c0, dim=-1),
        torch.cross(c0, c1, dim=-1),
    )
    det = (c0 * r0).sum(-1)
    return det, torch.stack([r0, r1, r2], dim=1) / det[:, None, None]


class FieldSizeError(ValueError):
    """A field whose size matches neither the dofs, the nodes nor the cells of the mesh."""


@dataclass
class QuadratureData:
    """Everything an element kernel needs at the quadrature points of every cell.

    Attributes
    ----------
    xi:
        ``(Q, d)`` reference quadrature points.
    x:
        ``(E, Q, d)`` physical quadrature points (computed on first use from ``origin`` and
        ``jac``, the affine map ``x = x_0 + J ξ``: constant coefficients never need them).
    wdet:
        ``(E, Q)`` weights times ``|det J|`` (so ``Σ wdet · f = ∫ f``).
    shape:
        ``(Q, n)`` shape function values.
    grad:
        ``(E, Q, n, d)`` physical shape function gradients.
    """

    xi: Tensor
    wdet: Tensor
    shape: Tensor
    grad: Tensor
    origin: Tensor
    jac: Tensor

    @cached_property
    def x(self) -> Tensor:
        return self.origin + torch.einsum("eab,qb->eqa", self.jac, self.xi)


class FunctionSpace:
    """Continuous P1 / P2 Lagrange space on a simplicial mesh.

    Parameters
    ----------
    mesh:
        The mesh.
    degree:
        1 or 2.
    n_components:
        1 for scalar fields, ``d`` for displacements.
    """

    def __init__(self, mesh: Mesh, degree: int = 1, n_components: int = 1) -> None:
        self.mesh = mesh
        self.degree = degree
        self.n_components = n_components
        self.element: LagrangeElement = lagrange(mesh.dim, degree)
        self.facet_element: LagrangeElement = lagrange(mesh.dim - 1, degree)
        cells = mesh.cells
        if degree == 1:
            self.edges = cells.new_zeros((0, 2))
            self.scalar_cell_dofs = cells
        else:
            local = torch.tensor(self.element.edges, device=cells.device)  # (ne, 2)
            pairs = cells[:, local].sort(dim=-1).values  # (E, ne, 2)
            n = mesh.n_points  # unique over 1D keys a·n + b: much faster than unique(dim=0)
            keys, inverse = unique_keys(pairs[..., 0] * n + pairs[..., 1], return_inverse=True)
            self.edges = torch.stack([keys // n, keys % n], dim=1)
            edge_dofs = mesh.n_points + inverse.reshape(cells.shape[0], -1)
            self.scalar_cell_dofs = torch.cat([cells, edge_dofs], dim=1)
        self.n_scalar_dofs = mesh.n_points + len(self.edges)
        c = n_components
        comp = torch.arange(c, device=cells.device)
        #: ``(E, n·c)`` global dofs of each cell, local order (shape function, component)
        self.cell_dofs = (self.scalar_cell_dofs[:, :, None] * c + comp).reshape(cells.shape[0], -1)

    @property
    def n_dofs(self) -> int:
        return self.n_scalar_dofs * self.n_components

    def __repr__(self) -> str:
        return (
            f"FunctionSpace(P{self.degree}, components={self.n_components}, dofs={self.n_dofs}, "
            f"{self.mesh!r})"
        )

    # -- coordinates and boundary dofs --------------------------------------------------------
    def dof_coordinates(self, points: Tensor | None = None) -> Tensor:
        """``(n_scalar_dofs, d)`` positions of the scalar dofs (vertices, then edge midpoints)."""
        points = self.mesh.points if points is None else points
        if self.degree == 1:
            return points
        return torch.cat([points, points[self.edges].mean(dim=1)])

    def _edge_ids(self, pairs: Tensor) -> Tensor:
        """Global edge index of vertex pairs ``(..., 2)``."""
        n = self.mesh.n_points
        keys = self.edges[:, 0] * n + self.edges[:, 1]
        s = pairs.sort(dim=-1).values
        q = s[..., 0] * n + s[..., 1]
        return torch.searchsorted(keys, q.reshape(-1)).reshape(q.shape)

    def facet_dofs(self, facets: Tensor) -> Tensor:
        """``(F, n_facet)`` scalar dofs of facets ``(F, d)`` in facet-element local order."""
        if self.degree == 1:
            return facets
        local = torch.tensor(self.facet_element.edges, device=facets.device)
        edge = self._edge_ids(facets[:, local])
        return torch.cat([facets, self.mesh.n_points + edge], dim=1)

    def boundary_dofs(
        self, tags: str | list[str] | tuple[str, ...] | None = None, components=None
    ) -> Tensor:
        """Sorted global dofs on the tagged boundary (``None``: whole boundary).

        ``components`` restricts a vector space to some components (e.g. ``(0,)`` for ``u_x``).
        """
        scalar = torch.unique(self.facet_dofs(self.mesh.boundary_facets(tags)))
        c = self.n_components
        comps = torch.arange(c) if components is None else torch.as_tensor(components)
        if comps.numel() and (comps.min() < 0 or comps.max() >= c):
            raise ValueError(f"components {comps.tolist()} out of range for {c} components")
        comps = comps.to(scalar.device)
        return (scalar[:, None] * c + comps).flatten().sort().values

    # -- quadrature ----------------------------------------------------------------------------
    def quadrature(self, degree: int, points: Tensor | None = None) -> QuadratureData:
        """Quadrature data of a rule exact to ``degree`` with node coordinates ``points``.

        For P1 the physical gradients are constant per cell: ``grad`` is then a broadcast view
        ``(E, 1, n, d) → (E, Q, n, d)`` (no memory per quadrature point).
        """
        points = self.mesh.points if points is None else points
        xi, w = simplex_quadrature(self.mesh.dim, degree, dtype=points.dtype, device=points.device)
        cells = self.mesh.cells
        x = points.index_select(0, cells.reshape(-1)).reshape(*cells.shape, -1)  # (E, d+1, d)
        jac = (x[:, 1:] - x[:, :1]).transpose(1, 2)  # (E, d, d): J[a, b] = ∂x_a / ∂ξ_b
        det, inv = affine_det_inv(jac)
        if self.degree == 1:
            dshape = self.element.grad(xi[:1])  # (1, n, d), the same at every point
            grad = torch.einsum("qnb,eba->eqna", dshape, inv).expand(-1, xi.shape[0], -1, -1)
        else:
            grad = torch.einsum("qnb,eba->eqna", self.element.grad(xi), inv)
        wdet = w * det.abs()[:, None]
        return QuadratureData(xi, wdet, self.element.shape(xi), grad, x[:, :1], jac)

    def coefficient_degree(self, value: Coefficient) -> int:
        """Polynomial degree on each cell of a coefficient given as in :meth:`at_quadrature`.

        0 for numbers, per-sample constants and per-cell values; 1 for nodal values (P1
        interpolation); the space degree for dof vectors. A function of ``x`` is not a
        polynomial: it counts as the space degree (integrated as accurately as its interpolant
        in this space, which keeps the optimal convergence rates); ask an :class:`Assembler`
        for a higher ``quad_degree`` where more accuracy is needed.
        """
        if callable(value):
            return self.degree
        v = torch.as_tensor(value)
        n = v.shape[-1] if v.ndim else 1
        if n == self.n_scalar_dofs:  # the same order of checks as at_quadrature
            return self.degree
        if n == self.mesh.n_points:
            return 1
        if n in (1, self.mesh.n_cells):
            return 0
        return self.degree

    def at_quadrature(self, value: Coefficient, qd: QuadratureData, name: str = "field") -> Tensor:
        """Values ``(B, E, Q)`` of a scalar coefficient at the quadrature points.

        ``value`` may be a number; a tensor whose last axis has ``n_scalar_dofs`` (interpolated
        with this space), ``n_points`` (P1 interpolation of nodal values) or ``n_cells`` entries
        (piecewise constant), or has size 1 (a per-sample constant), with optional leading batch
        axis ``B``; or a function of coordinates ``(E, Q, d) → (E, Q)`` or ``(B, E, Q)``.
        """
        e, q = qd.wdet.shape
        if callable(value):
            out = value(qd.x)
            return out if out.ndim == 3 else out[None]
        v = torch.as_tensor(value, dtype=qd.wdet.dtype, device=qd.wdet.device)
        if v.ndim == 0:
            return v.expand(1, e, q)
        v = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v[None]
        n = v.shape[-1]
        mesh = self.mesh
        if n in (mesh.n_points, self.n_scalar_dofs) and n == mesh.n_cells:
            raise FieldSizeError(
                f"{name}: {n} values are ambiguous on {mesh.name} ({n} nodes and {n} cells); "
                "pass a function of x or refine the mesh"
            )
        if n == 1:
            return v[:, :, None].expand(-1, e, q)
        if n == self.n_scalar_dofs:
            return torch.einsum("ben,qn->beq", v[:, self.scalar_cell_dofs], qd.shape)
        if n == mesh.n_points:
            p1 = lagrange(mesh.dim, 1).shape(qd.xi)
            return torch.einsum("ben,qn->beq", v[:, mesh.cells], p1)
        if n == mesh.n_cells:
            return v[:, :, None].expand(-1, -1, q)
        raise FieldSizeError(
            f"{name} has {n} values per sample; expected {self.n_scalar_dofs} (dofs), "
            f"{mesh.n_points} (nodes) or {mesh.n_cells} (cells) for {mesh.name}"
        )

    def interpolate(self, fn: Callable[[Tensor], Tensor], points: Tensor | None = None) -> Tensor:
        """Nodal interpolant: ``fn`` evaluated at the dof coordinates, ``(..., n_scalar_dofs)``."""
        return fn(self.dof_coordinates(points))
