"""Scalar elliptic problems: ``-∇·(κ ∇u) = f`` with Dirichlet, Neumann and Robin boundaries.

.. math:: -\\nabla\\cdot(\\kappa\\nabla u) = f \\text{ in } \\Omega,\\quad
          u = g \\text{ on } \\Gamma_D,\\quad
          \\kappa\\partial_n u = h \\text{ on } \\Gamma_N,\\quad
          \\kappa\\partial_n u + \\alpha u = \\alpha g_R \\text{ on } \\Gamma_R.

Weak form with P1/P2 Lagrange elements; Dirichlet by elimination and lifting; the reduced system
is solved by :class:`~.linear_solve.SparseSolver`, so the solution is differentiable w.r.t. ``κ``,
``f``, ``g``, ``h``, ``α``, ``g_R`` and the node coordinates by one adjoint solve. Batched: any
coefficient may carry a leading batch axis ``B`` (``B`` systems on one mesh and pattern).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sciml.solvers.fem.assembly import Assembler
from sciml.solvers.fem.boundary import DirichletCondensation, FacetIntegrator, dirichlet_values
from sciml.solvers.fem.linear_solve import SingularSystemError, SparseSolver
from sciml.solvers.fem.mesh import Mesh
from sciml.solvers.fem.space import Coefficient, FunctionSpace

__all__ = ["Poisson", "Tags"]

Tags = str | Sequence[str] | None


def _tag_list(tags: Tags) -> list[str] | None:
    return [tags] if isinstance(tags, str) else (None if tags is None else list(tags))


class Poisson:
    """P1/P2 solver of the scalar elliptic problem above on a fixed mesh.

    Parameters
    ----------
    mesh:
        The mesh.
    degree:
        Lagrange degree, 1 or 2.
    dirichlet:
        Boundary tags with ``u = g`` (``None``: the whole boundary; ``()``: none).
    neumann, robin:
        Tags with flux / Robin conditions (default ``()``: none; ``None``: the whole boundary).
    solver:
        The linear solver (default ``SparseSolver("auto")``).
    quad_degree:
        Quadrature degree of the volume terms (default: the lowest exact one per form, see
        :class:`~.assembly.Assembler`).
    """

    def __init__(
        self,
        mesh: Mesh,
        *,
        degree: int = 1,
        dirichlet: Tags = None,
        neumann: Tags = (),
        robin: Tags = (),
        solver: SparseSolver | None = None,
        quad_degree: int | None = None,
    ) -> None:
        self.mesh = mesh
        self.space = FunctionSpace(mesh, degree)
        self.assembler = Assembler(self.space, quad_degree)
        self.solver = solver or SparseSolver()
        dirichlet, neumann, robin = map(_tag_list, (dirichlet, neumann, robin))
        fixed = (
            self.space.boundary_dofs(dirichlet)
            if dirichlet is None or dirichlet
            else torch.zeros(0, dtype=torch.long, device=mesh.points.device)
        )
        # None names the whole boundary for every kind of condition; () names none
        has_neumann, has_robin = neumann is None or bool(neumann), robin is None or bool(robin)
        if len(fixed) == 0 and not has_robin:
            raise SingularSystemError(
                f"{mesh.name}: no Dirichlet and no Robin boundary: the pure Neumann problem is "
                "singular (u is defined up to a constant); give a Dirichlet or Robin tag"
            )
        self.condensation = DirichletCondensation(self.assembler.pattern, fixed)
        self.neumann = FacetIntegrator(self.space, neumann) if has_neumann else None
        self.robin = FacetIntegrator(self.space, robin) if has_robin else None
        if self.robin is not None:
            self._robin_pos = self.robin.mass_positions(self.assembler.pattern)

    def system(
        self,
        f: Coefficient = 0.0,
        *,
        kappa: Coefficient = 1.0,
        h: Coefficient = 0.0,
        alpha: Coefficient = 1.0,
        g_robin: Coefficient = 0.0,
        points: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Full matrix values ``(B, nnz)`` and right-hand side ``(B, n)`` before elimination."""
        values = self.assembler.stiffness(kappa, points)
        rhs = self.assembler.load(f, points)
        if self.neumann is not None:
            rhs = rhs + self.neumann.load(h, points)
        if self.robin is not None:
            values = values + self.robin.mass(alpha, self._robin_pos, values.shape[1], points)
            if callable(alpha) or callable(g_robin):
                ag = lambda x: _call(alpha, x) * _call(g_robin, x)  # noqa: E731
            else:
                ag = torch.as_tensor(alpha) * torch.as_tensor(g_robin)
            rhs = rhs + self.robin.load(ag, points)
        return values, rhs

    def solve(
        self,
        f: Coefficient = 0.0,
        *,
        kappa: Coefficient = 1.0,
        g: Coefficient | None = None,
        h: Coefficient = 0.0,
        alpha: Coefficient = 1.0,
        g_robin: Coefficient = 0.0,
        points: Tensor | None = None,
    ) -> Tensor:
        """Solution dof values ``(B, n_dofs)`` (vertices first, then P2 edge midpoints).

        Parameters
        ----------
        f, kappa:
            Source and conductivity (see :meth:`FunctionSpace.at_quadrature` for accepted forms).
        g:
            Dirichlet data (number, dof vector ``(B, n_dofs)`` or function of ``x``); ``None``: 0.
        h, alpha, g_robin:
            Neumann flux, Robin coefficient and Robin reference value (numbers, per-sample
            ``(B,)`` tensors, or functions of ``x`` ``(F, Q, d) → (F, Q)``).
        points:
            Node coordinates to use instead of the mesh's (for shape derivatives).
        """
        values, rhs = self.system(f, kappa=kappa, h=h, alpha=alpha, g_robin=g_robin, points=points)
        gv = dirichlet_values(self.space, g, points)
        vals_ff, rhs_f = self.condensation.reduce(values, rhs, gv)
        u_f = self.solver(self.condensation.reduced, vals_ff, rhs_f)
        return self.condensation.expand(u_f, gv)


def _call(value: Coefficient, x: Tensor) -> Tensor:
    return value(x) if callable(value) else torch.as_tensor(value, dtype=x.dtype, device=x.device)
