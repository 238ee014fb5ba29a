r"""Heat equation :math:`\partial_t u = \nu\Delta u` between walls (Dirichlet or Neumann, 1D–3D).

With the bounded grid's eigenfunctions the symbol is :math:`L = -\nu|k|^2`,
:math:`k_m = \pi m/L`, so every ETDRK scheme is exact in time:
:math:`b_m(t) = e^{-\nu k_m^2 t} b_m(0)` (Dirichlet: sine series; Neumann: cosine series, whose
mean :math:`a_0` is conserved).
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.bounded_equation import BoundedEquation
from sciml.solvers.spectral.bounded_grid import BoundedGrid

__all__ = ["BoundedDiffusion"]


class BoundedDiffusion(BoundedEquation):
    """Heat equation with diffusivity ``nu`` (float or ``(B,)`` tensor, ``>= 0``) between walls."""

    def __init__(self, grid: BoundedGrid, nu: float | torch.Tensor = 0.01) -> None:
        super().__init__(grid, dealias_fraction=1.0)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"diffusivity nu must be >= 0, got {nu}")

    def linear_symbol(self) -> torch.Tensor:
        return self.nu * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(u_hat)
