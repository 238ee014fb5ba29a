r"""Viscous Burgers :math:`u_t + u u_x = \nu u_{xx}` on :math:`[a, a + L]` with walls (1D).

:math:`L = -\nu k^2` on the bounded grid's series, :math:`N = -\tfrac12 (u^2)_x` dealiased by the
2/3 rule. :math:`u^2` is even in either case, so its cosine coefficients :math:`c_m` give the flux
derivative directly:

* **Dirichlet** (:math:`u = 0`, sine series): :math:`\hat N_m = \tfrac12 k_m c_m`, exact
  Galerkin. Burgers is invariant under :math:`u \mapsto -u(-x)`, so the odd extension solves the
  periodic problem and convergence is spectral. The classic benchmark :math:`u_0 = -\sin\pi x` on
  :math:`[-1, 1]`, :math:`\nu = 0.01/\pi` (Basdevant et al., Mon. Weather Rev. 114, 1986) is
  :mod:`sciml.data.recipes.burgers_dirichlet`. On :math:`[0, \pi]` the periodic Cole–Hopf
  solutions odd in :math:`x` (:func:`sciml.solvers.exact.burgers_cole_hopf`) are exact solutions.
* **Neumann** (:math:`u_x = 0`, cosine series): :math:`(u^2)_x` is odd, so it is formed as a sine
  series at the points and re-expanded in cosines; its even extension has a kink at the walls
  (Burgers is not invariant under :math:`x \mapsto -x`), so the spatial error decays
  algebraically (measured order in ``docs/solvers.md``), not spectrally.
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.bounded_equation import BoundedEquation
from sciml.solvers.spectral.bounded_grid import BoundedGrid

__all__ = ["BoundedBurgers"]


class BoundedBurgers(BoundedEquation):
    """1D viscous Burgers between walls, viscosity ``nu`` (float or ``(B,)`` tensor, ``>= 0``)."""

    spatial_dims = (1,)

    def __init__(
        self,
        grid: BoundedGrid,
        nu: float | torch.Tensor = 0.1,
        *,
        dealias_fraction: float = 2 / 3,
    ) -> None:
        super().__init__(grid, dealias_fraction=dealias_fraction)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"viscosity nu must be >= 0, got {nu}")

    def linear_symbol(self) -> torch.Tensor:
        return self.nu * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        c = self.to_spectrum(u * u, ("cos",))  # u^2 is even either way
        flux, parity = self.grid.derivative(-0.5 * c, 0, ("cos",))  # sine coefficients k c / 2
        if self.grid.boundary == "dirichlet":
            return flux
        # Neumann: the odd flux derivative re-expanded in cosines at the points
        return self.to_spectrum(self.grid.inverse(flux, parity))

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.grid.inverse(u_hat).detach().abs().max()
