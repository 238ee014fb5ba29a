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
from sciml.solvers.fem.space import Coefficient, FunctionSpace, QuadratureData

__all__ = ["Assembler", "l2_error", "h1_seminorm_error"]


class Assembler:
    """Assembles matrices and vectors of one :class:`FunctionSpace` (pattern computed once).

    Parameters
    ----------
    space:
        The function space (scalar or vector).
    quad_degree:
        Degree of the quadrature rule; default ``2·degree + 1`` (exact for mass matrices with a
        P1-interpolated coefficient, and enough for the rates of smooth data).
    """

    def __init__(self, space: FunctionSpace, quad_degree: int | None = None) -> None:
        self.space = space
        self.quad_degree = quad_degree if quad_degree is not None else 2 * space.degree + 1
        self.pattern, self.k_map = SparsePattern.from_cell_dofs(space.cell_dofs, space.n_dofs)
        self._cached: QuadratureData | None = None

    def quadrature(self, points: Tensor | None = None) -> QuadratureData:
        """Quadrature data at the given node coordinates (default: the mesh's, computed once).

        The mesh's own data is cached unless its points require grad (a cached tensor would tie
        every later call to the first call's autograd graph).
        """
        if points is not None or self.space.mesh.points.requires_grad:
            return self.space.quadrature(self.quad_degree, points)
        if self._cached is None:
            self._cached = self.space.quadrature(self.quad_degree)
        return self._cached

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
        qd = self.quadrature(points)
        k = self.space.at_quadrature(kappa, qd, "kappa") * qd.wdet
        return self.scatter_matrix(torch.einsum("beq,eqid,eqjd->beij", k, qd.grad, qd.grad))

    def mass(self, rho: Coefficient = 1.0, points: Tensor | None = None) -> Tensor:
        """``(B, nnz)`` values of ``∫ ρ u v`` (scalar space)."""
        qd = self.quadrature(points)
        r = self.space.at_quadrature(rho, qd, "rho") * qd.wdet
        return self.scatter_matrix(torch.einsum("beq,qi,qj->beij", r, qd.shape, qd.shape))

    def load(self, f: Coefficient, points: Tensor | None = None) -> Tensor:
        """``(B, n_dofs)`` load vector ``∫ f v`` (scalar space)."""
        qd = self.quadrature(points)
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
