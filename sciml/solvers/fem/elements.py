"""Lagrange elements P1 and P2 on triangles and tetrahedra: shape functions and gradients.

Written in barycentric coordinates ``λ_0 = 1 - Σ ξ_i, λ_{i} = ξ_i`` of the reference simplex:

* P1: ``N_i = λ_i`` (one per vertex);
* P2: vertices ``N_i = λ_i (2 λ_i - 1)``, edges ``N_{ab} = 4 λ_a λ_b``.

Local numbering follows VTK / meshio (``triangle6``, ``tetra10``): vertices first, then edges
``(0,1), (1,2), (2,0)`` in 2D and ``(0,1), (1,2), (2,0), (0,3), (1,3), (2,3)`` in 3D
(Ern & Guermond, *Theory and Practice of Finite Elements*, 2004, §1.2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LagrangeElement", "lagrange"]

_EDGES = {
    2: ((0, 1), (1, 2), (2, 0)),
    3: ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)),
}


@dataclass(frozen=True)
class LagrangeElement:
    """Continuous Lagrange element of ``degree`` 1 or 2 on the ``dim``-simplex (dim 1, 2 or 3)."""

    dim: int
    degree: int

    def __post_init__(self) -> None:
        if self.degree not in (1, 2):
            raise ValueError(f"Lagrange degree must be 1 or 2, got {self.degree}")
        if self.dim not in (1, 2, 3):
            raise ValueError(f"simplex dimension must be 1, 2 or 3, got {self.dim}")

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Local vertex pairs carrying the edge dofs (P2), in local dof order."""
        if self.degree == 1:
            return ()
        return _EDGES.get(self.dim, ((0, 1),))

    @property
    def n_dofs(self) -> int:
        return self.dim + 1 + len(self.edges)

    def _bary(self, xi: Tensor) -> tuple[Tensor, Tensor]:
        lam = torch.cat([1 - xi.sum(-1, keepdim=True), xi], dim=-1)  # (Q, d+1)
        dlam = torch.cat(
            [
                -torch.ones(1, self.dim, dtype=xi.dtype, device=xi.device),
                torch.eye(self.dim, dtype=xi.dtype, device=xi.device),
            ]
        )  # (d+1, d)
        return lam, dlam

    def shape(self, xi: Tensor) -> Tensor:
        """Shape function values ``(Q, n_dofs)`` at reference points ``xi`` ``(Q, dim)``."""
        lam, _ = self._bary(xi)
        if self.degree == 1:
            return lam
        vert = lam * (2 * lam - 1)
        edge = [4 * lam[:, a] * lam[:, b] for a, b in self.edges]
        return torch.cat([vert, torch.stack(edge, dim=-1)], dim=-1)

    def grad(self, xi: Tensor) -> Tensor:
        """Reference gradients ``∂N_i/∂ξ`` ``(Q, n_dofs, dim)``."""
        lam, dlam = self._bary(xi)
        q = xi.shape[0]
        if self.degree == 1:
            return dlam.expand(q, -1, -1)
        vert = (4 * lam - 1)[:, :, None] * dlam[None]
        edge = [4 * (lam[:, a, None] * dlam[b] + lam[:, b, None] * dlam[a]) for a, b in self.edges]
        return torch.cat([vert, torch.stack(edge, dim=1)], dim=1)

    def reference_nodes(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """``(n_dofs, dim)`` nodes of the reference element (vertices, then edge midpoints)."""
        verts = torch.cat([torch.zeros(1, self.dim), torch.eye(self.dim)]).to(dtype)
        mids = [(verts[a] + verts[b]) / 2 for a, b in self.edges]
        return torch.cat([verts, *(m[None] for m in mids)]) if mids else verts


def lagrange(dim: int, degree: int) -> LagrangeElement:
    """The P``degree`` Lagrange element on the ``dim``-simplex."""
    return LagrangeElement(dim, degree)
