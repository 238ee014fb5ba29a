"""Boundary conditions: Dirichlet by elimination with lifting, Neumann and Robin facet terms.

Dirichlet: split the dofs into free ``F`` and prescribed ``D`` with values ``g``; the reduced system
is ``A_FF u_F = b_F - A_FD g`` and ``u = (u_F, g)``. :class:`DirichletCondensation` precomputes
the sub-pattern of ``A_FF`` and the entries of ``A_FD`` once, so the reduction is two gathers and
one ``index_add_`` — differentiable w.r.t. matrix values, right-hand side and ``g``.

Neumann and Robin terms live on boundary facets (:class:`FacetIntegrator`):

.. math:: \\int_{\\Gamma_N} h\\, v\\, ds \\quad\\text{(load)},\\qquad
          \\int_{\\Gamma_R} \\alpha\\, u\\, v\\, ds \\quad\\text{(matrix)}

for ``-∇·(κ∇u) = f`` with ``κ ∂u/∂n = h`` on ``Γ_N`` and ``κ ∂u/∂n + α u = α g_R`` on ``Γ_R``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sciml.solvers.fem.linear_solve import SparsePattern
from sciml.solvers.fem.quadrature import simplex_quadrature
from sciml.solvers.fem.space import Coefficient, FunctionSpace

__all__ = ["DirichletCondensation", "FacetIntegrator", "dirichlet_values"]


class DirichletCondensation:
    """Elimination of prescribed dofs from systems on ``pattern``.

    Parameters
    ----------
    pattern:
        The full ``n × n`` pattern.
    fixed:
        Indices of the prescribed dofs.
    """

    def __init__(self, pattern: SparsePattern, fixed: Tensor) -> None:
        n = pattern.n
        self.pattern = pattern
        dev = pattern.rows.device
        is_fixed = torch.zeros(n, dtype=torch.bool, device=dev)
        is_fixed[fixed] = True
        self.fixed = is_fixed.nonzero().flatten()
        self.free = (~is_fixed).nonzero().flatten()
        new = torch.full((n,), -1, dtype=torch.long, device=dev)
        new[self.free] = torch.arange(len(self.free), device=dev)
        # (index_select: several times faster than [] indexing of long vectors on CPU)
        free_r = ~is_fixed.index_select(0, pattern.rows)
        free_c = ~is_fixed.index_select(0, pattern.cols)
        self.ff = (free_r & free_c).nonzero().flatten()
        self.fd = (free_r & ~free_c).nonzero().flatten()
        self.fd_rows = new.index_select(0, pattern.rows.index_select(0, self.fd))
        self.fd_cols = pattern.cols.index_select(0, self.fd)
        transpose = None  # the transposed entry of a free-free entry is free-free too
        if pattern.transpose is not None:
            at = torch.full((pattern.nnz,), -1, dtype=torch.long, device=dev)
            at[self.ff] = torch.arange(len(self.ff), device=dev)
            transpose = at.index_select(0, pattern.transpose.index_select(0, self.ff))
        #: pattern of the reduced matrix ``A_FF`` (a monotone renumbering keeps it sorted)
        self.reduced = SparsePattern(
            new.index_select(0, pattern.rows.index_select(0, self.ff)),
            new.index_select(0, pattern.cols.index_select(0, self.ff)),
            len(self.free),
            transpose,
        )

    def reduce(self, values: Tensor, rhs: Tensor, g: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(A_FF values (B, nnz_FF), b_F - A_FD g (B, n_F))`` from full ``values``, ``rhs``.

        ``g`` ``(B, n)`` holds the Dirichlet values at the fixed dofs (other entries ignored);
        ``None`` means homogeneous.
        """
        vals_ff = values.index_select(-1, self.ff)
        rhs_f = rhs.index_select(-1, self.free)
        if g is not None:
            b = max(values.shape[0], rhs.shape[0], g.shape[0])
            lift = values[:, self.fd] * g[:, self.fd_cols]
            corr = torch.zeros(lift.shape[0], len(self.free), dtype=lift.dtype, device=lift.device)
            rhs_f = (rhs_f - corr.index_add_(1, self.fd_rows, lift)).expand(b, -1)
        return vals_ff, rhs_f

    def expand(self, u_free: Tensor, g: Tensor | None = None) -> Tensor:
        """Full ``(B, n)`` vector with ``u_free`` on the free dofs and ``g`` on the fixed ones."""
        b = u_free.shape[0]
        base = torch.zeros(b, self.pattern.n, dtype=u_free.dtype, device=u_free.device)
        if g is not None:
            mask = torch.zeros(self.pattern.n, dtype=u_free.dtype, device=u_free.device)
            mask[self.fixed] = 1
            base = base + g * mask
        return base.index_copy(1, self.free, u_free)


def dirichlet_values(
    space: FunctionSpace, g: Coefficient | None, points: Tensor | None = None
) -> Tensor | None:
    """Dirichlet data as a ``(B, n_dofs)`` dof vector (only the fixed entries are used).

    ``g`` may be a number, a tensor ``(n_dofs,)`` / ``(B, n_dofs)``, or a function of the dof
    coordinates ``(N, d) → (N,)`` (scalar) or ``(N, c)`` (vector spaces), ``(B, N[, c])`` batched.
    """
    if g is None:
        return None
    if callable(g):
        v = g(space.dof_coordinates(points))
        if space.n_components > 1:  # (…, N, c) → (…, N·c), the interleaved dof order
            v = v.reshape(*v.shape[:-2], -1)
        return v.reshape(-1, space.n_dofs)
    v = torch.as_tensor(g, dtype=space.mesh.points.dtype, device=space.mesh.points.device)
    if v.ndim == 0:
        return v.expand(1, space.n_dofs)
    if v.shape[-1] != space.n_dofs:
        raise ValueError(
            f"Dirichlet data has {v.shape[-1]} values per sample, expected {space.n_dofs} (dofs)"
        )
    return v.reshape(-1, space.n_dofs)


class FacetIntegrator:
    """Integrals over the boundary facets carrying ``tags`` (Neumann loads, Robin matrices).

    Parameters
    ----------
    space:
        The function space.
    tags:
        Boundary tags of the mesh (``None``: the whole boundary).
    quad_degree:
        Facet quadrature degree for every term. Default: the lowest exact one per term with
        ``p`` the space degree — load ``p``, Robin mass ``2p`` — plus ``p`` when the coefficient
        is a function of ``x`` (numbers and per-sample constants add nothing).
    """

    def __init__(self, space: FunctionSpace, tags, quad_degree: int | None = None) -> None:
        self.space = space
        mesh = space.mesh
        self.facets = mesh.boundary_facets(tags)
        self.scalar_dofs = space.facet_dofs(self.facets)  # (F, m)
        c = space.n_components
        comp = torch.arange(c, device=self.facets.device)
        self.dofs = (self.scalar_dofs[:, :, None] * c + comp).reshape(len(self.facets), -1)
        self.quad_degree = quad_degree

    def _degree(self, n_shape: int, value: Coefficient) -> int:
        if self.quad_degree is not None:
            return self.quad_degree
        p = self.space.degree
        return n_shape * p + (p if callable(value) else 0)

    def _geometry(self, points: Tensor | None, degree: int) -> tuple[Tensor, Tensor, Tensor]:
        """``x_q`` ``(F, Q, d)``, ``w·|facet Jacobian|`` ``(F, Q)`` and shape values ``(Q, m)``."""
        points = self.space.mesh.points if points is None else points
        xi, w = simplex_quadrature(
            self.space.mesh.dim - 1, degree, dtype=points.dtype, device=points.device
        )
        x = points[self.facets]  # (F, d, d)
        jac = x[:, 1:] - x[:, :1]  # (F, d-1, d) rows = edge vectors
        gram = jac @ jac.transpose(1, 2)
        # |det| of the facet map; the reference weights already sum to the reference measure
        scale = torch.linalg.det(gram).sqrt()
        xq = x[:, :1] + torch.einsum("fkd,qk->fqd", jac, xi)
        return xq, w * scale[:, None], self.space.facet_element.shape(xi)

    def _values(self, value: Coefficient, xq: Tensor, trailing: tuple[int, ...]) -> Tensor:
        """``(B, F, Q, *trailing)`` values of a number, function of ``x``, or per-sample tensor."""
        if callable(value):
            v = value(xq)
            return v if v.ndim == xq.ndim + len(trailing) else v[None]
        v = torch.as_tensor(value, dtype=xq.dtype, device=xq.device)
        if v.ndim > len(trailing):  # a leading batch axis of constants
            return v.reshape(-1, 1, 1, *trailing)
        return v.reshape(1, 1, 1, *trailing).expand(1, *xq.shape[:2], *trailing)

    def load(self, h: Coefficient, points: Tensor | None = None) -> Tensor:
        """``(B, n_dofs)`` vector ``∫_Γ h·v ds``; vector spaces take ``h`` with a trailing ``c``."""
        xq, wdet, shape = self._geometry(points, self._degree(1, h))
        c = self.space.n_components
        trailing = (c,) if c > 1 else ()
        hv = self._values(h, xq, trailing)
        if c == 1:
            hv = hv[..., None]
        local = torch.einsum("bfqc,fq,qm->bfmc", hv, wdet, shape)  # (B, F, m, c)
        b = local.shape[0]
        out = torch.zeros(b, self.space.n_dofs, dtype=local.dtype, device=local.device)
        return out.index_add_(1, self.dofs.reshape(-1), local.reshape(b, -1))

    def mass_positions(self, pattern: SparsePattern) -> Tensor:
        """Positions in ``pattern`` of the local facet mass entries ``(F·m·m,)`` (scalar space)."""
        m = self.scalar_dofs.shape[1]
        r = self.scalar_dofs[:, :, None].expand(-1, m, m).reshape(-1)
        cc = self.scalar_dofs[:, None, :].expand(-1, m, m).reshape(-1)
        return pattern.positions(r, cc)

    def mass(
        self, alpha: Coefficient, positions: Tensor, nnz: int, points: Tensor | None = None
    ) -> Tensor:
        """``(B, nnz)`` values of ``∫_Γ α u v ds`` placed at ``positions`` of a scalar pattern."""
        xq, wdet, shape = self._geometry(points, self._degree(2, alpha))
        a = self._values(alpha, xq, ())
        local = torch.einsum("bfq,fq,qi,qj->bfij", a, wdet, shape, shape)
        b = local.shape[0]
        out = torch.zeros(b, nnz, dtype=local.dtype, device=local.device)
        return out.index_add_(1, positions, local.reshape(b, -1))
