"""Sparse assembly of stiffness, mass and load, batched over coefficient fields on one mesh.

The pattern and the element→nonzero map are computed once per space
(:meth:`SparsePattern.from_cell_dofs`); each call evaluates local matrices for all cells at once
(einsum over ``(B, E, Q, n, n)``) and scatters them with one ``index_add_`` — differentiable
w.r.t. the coefficients and the node coordinates (torch-fem's ``assemble_matrix`` design):

.. math:: K^{(b)}_{ij} = \\sum_e \\sum_q w_q |\\det J_e|\\, \\kappa_b(x_{eq})\\,
          \\nabla N_i(x_{eq}) \\cdot \\nabla N_j(x_{eq}),\\quad
          M^{(b)}_{ij} = \\sum_{e,q} w_q |\\det J_e| \\rho_b N_i N_j,\\quad
          F^{(b)}_i = \\sum_{e,q} w_q |\\det J_e| f_b N_i.

Values come out as ``(B, nnz)`` on the pattern, vectors as ``(B, n_dofs)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sciml.solvers.fem.linear_solve import SparsePattern
from sciml.solvers.fem.quadrature import rule_degree
from sciml.solvers.fem.space import Coefficient, FunctionSpace, QuadratureData

__all__ = ["Assembler", "l2_error", "h1_seminorm_error"]


class Assembler:
    """Assembles matrices and vectors of one :class:`FunctionSpace` (pattern computed once).

    Each form is integrated with the lowest-degree rule that is exact for its integrand on an
    affine simplex (:meth:`form_degree`): with ``p`` the space degree and ``c`` the polynomial
    degree of the coefficient (:meth:`FunctionSpace.coefficient_degree`: 0 for constants and
    per-cell values, 1 for nodal values, ``p`` for dof vectors and functions of ``x``),

    * stiffness ``∫ κ ∇u·∇v``: ``2(p - 1) + c`` (P1 with constant or per-cell κ: one point);
    * mass ``∫ ρ u v``: ``2p + c``;
    * load ``∫ f v``: ``p + c``.

    Parameters
    ----------
    space:
        The function space (scalar or vector).
    quad_degree:
        Use this quadrature degree for every form instead (e.g. to match another code's rule).
    """

    def __init__(self, space: FunctionSpace, quad_degree: int | None = None) -> None:
        self.space = space
        self.quad_degree = quad_degree
        self.pattern, self.k_map = SparsePattern.from_cell_dofs(
            space.scalar_cell_dofs, space.n_scalar_dofs, space.n_components
        )
        self._cached: dict[int, QuadratureData] = {}

    def form_degree(self, n_shape: int, n_derivatives: int, *coefficients: Coefficient) -> int:
        """Quadrature degree exact for a product of ``n_shape`` shape functions of the space
        (``n_derivatives`` of them differentiated once) and the ``coefficients``.

        E.g. stiffness ``(2, 2, κ)``, mass ``(2, 0, ρ)``, load ``(1, 0, f)``; the ``quad_degree``
        given at construction, if any, wins.
        """
        if self.quad_degree is not None:
            return self.quad_degree
        p = self.space.degree
        cdeg = sum(self.space.coefficient_degree(c) for c in coefficients)
        return max(n_shape * p - n_derivatives + cdeg, 0)

    def quadrature(self, points: Tensor | None = None, degree: int | None = None) -> QuadratureData:
        """Quadrature data of a rule exact to ``degree`` at the given node coordinates.

        ``degree`` defaults to the construction's ``quad_degree`` or, without one, ``2p + 1``.
        The data on the mesh's own points is cached per degree unless the points require grad
        (a cached tensor would tie every later call to the first call's autograd graph).
        """
        if degree is None:
            degree = self.quad_degree if self.quad_degree is not None else 2 * self.space.degree + 1
        if points is not None or self.space.mesh.points.requires_grad:
            return self.space.quadrature(degree, points)
        degree = rule_degree(degree)  # e.g. stiffness (0) and load (1) of P1 share the centroid
        if degree not in self._cached:
            self._cached[degree] = self.space.quadrature(degree)
        return self._cached[degree]

    # -- scatter -------------------------------------------------------------------------------
    def scatter_matrix(self, local: Tensor) -> Tensor:
        """``(B, E, k, k)`` local matrices → ``(B, nnz)`` values on the pattern."""
        b = local.shape[0]
        out = torch.zeros(b, self.pattern.nnz, dtype=local.dtype, device=local.device)
        return out.index_add_(1, self.k_map, local.reshape(b, -1))

    def scatter_vector(self, local: Tensor) -> Tensor:
        """``(B, E, k)`` local vectors → ``(B, n_dofs)``."""
        b = local.shape[0]
        out = torch.zeros(b, self.space.n_dofs, dtype=local.dtype, device=local.device)
        return out.index_add_(1, self.space.cell_dofs.reshape(-1), local.reshape(b, -1))

    # -- scalar forms --------------------------------------------------------------------------
    def stiffness(self, kappa: Coefficient = 1.0, points: Tensor | None = None) -> Tensor:
        """``(B, nnz)`` values of ``∫ κ ∇u·∇v`` (scalar space); κ as in ``at_quadrature``."""
        qd = self.quadrature(points, self.form_degree(2, 2, kappa))
        k = self.space.at_quadrature(kappa, qd, "kappa") * qd.wdet  # (B, E, Q)
        if self.space.degree == 1:  # constant gradients: ∫ κ once per cell, then G Gᵀ
            g = qd.grad[:, 0]  # (E, n, d)
            local = k.sum(-1)[..., None, None] * torch.bmm(g, g.transpose(1, 2))
        else:
            local = torch.einsum("beq,eqid,eqjd->beij", k, qd.grad, qd.grad)
        return self.scatter_matrix(local)

    def mass(self, rho: Coefficient = 1.0, points: Tensor | None = None) -> Tensor:
        """``(B, nnz)`` values of ``∫ ρ u v`` (scalar space)."""
        qd = self.quadrature(points, self.form_degree(2, 0, rho))
        r = self.space.at_quadrature(rho, qd, "rho") * qd.wdet
        return self.scatter_matrix(torch.einsum("beq,qi,qj->beij", r, qd.shape, qd.shape))

    def load(self, f: Coefficient, points: Tensor | None = None) -> Tensor:
        """``(B, n_dofs)`` load vector ``∫ f v`` (scalar space)."""
        qd = self.quadrature(points, self.form_degree(1, 0, f))
        fq = self.space.at_quadrature(f, qd, "source") * qd.wdet
        return self.scatter_vector(torch.einsum("beq,qi->bei", fq, qd.shape))


def _field_at_quadrature(
    space: FunctionSpace, u: Tensor, qd: QuadratureData
) -> tuple[Tensor, Tensor]:
    """``u_h`` ``(B, E, Q)`` and ``∇u_h`` ``(B, E, Q, d)`` of dof vectors ``u`` ``(B, n)``."""
    ue = u.reshape(-1, space.n_dofs)[:, space.scalar_cell_dofs]
    return torch.einsum("ben,qn->beq", ue, qd.shape), torch.einsum("ben,eqnd->beqd", ue, qd.grad)


def l2_error(
    space: FunctionSpace, u: Tensor, exact: Callable[[Tensor], Tensor], degree: int | None = None
) -> Tensor:
    """``‖u_h - u‖_{L²}`` per sample ``(B,)``; ``exact`` maps ``(E, Q, d) → (E, Q)``."""
    qd = space.quadrature(degree or 2 * space.degree + 3)
    uh, _ = _field_at_quadrature(space, u, qd)
    return (((uh - exact(qd.x)) ** 2) * qd.wdet).sum((-1, -2)).sqrt()


def h1_seminorm_error(
    space: FunctionSpace,
    u: Tensor,
    grad_exact: Callable[[Tensor], Tensor],
    degree: int | None = None,
) -> Tensor:
    """``‖∇u_h - ∇u‖_{L²}`` per sample ``(B,)``; ``grad_exact`` maps ``(E, Q, d) → (E, Q, d)``."""
    qd = space.quadrature(degree or 2 * space.degree + 3)
    _, guh = _field_at_quadrature(space, u, qd)
    return (((guh - grad_exact(qd.x)) ** 2).sum(-1) * qd.wdet).sum((-1, -2)).sqrt()
