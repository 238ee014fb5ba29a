r"""Viscous Burgers equation :math:`\partial_t u + u\,\partial_x u = \nu\,\partial_{xx} u` (1D).

Written in conservative form, :math:`\hat N = -\tfrac12 ik\,\widehat{u^2}` (dealiased), with
:math:`L(k) = -\nu k^2`. On :math:`[0, 2\pi)` the Cole–Hopf transform gives closed-form solutions
(:func:`sciml.solvers.exact.burgers_cole_hopf`). The FNO paper (Li et al., ICLR 2021, §5.1) uses
:math:`\nu = 0.1` on :math:`[0, 1)` with GRF initial data; PDEBench uses
:math:`\nu \in \{0.001, 0.01, 0.1, 1\}` (in units of :math:`\nu/\pi`).
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral._ops import can_update
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["Burgers"]


@EQUATIONS.register("burgers")
class Burgers(SpectralEquation):
    """1D viscous Burgers with viscosity ``nu`` (float or ``(B,)`` tensor, ``> 0``)."""

    spatial_dims = (1,)
    masked_nonlinearity = True

    def __init__(self, grid: Grid, nu: float | torch.Tensor = 0.1, **kwargs: Any) -> None:
        super().__init__(grid, **kwargs)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"viscosity nu must be >= 0, got {nu}")
        self._dx = grid.derivative_symbol(0, 1)
        # -1/2 ik with the output mask folded in: one pass over the product's coefficients
        self._flux_factor = self.fourier_factor(-0.5 * self._dx)

    def linear_symbol(self) -> torch.Tensor:
        return self.nu * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self._flux(self.to_physical(u_hat))

    def nonlinear_of_masked(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self._flux(self.to_physical(u_hat, masked=True))

    def _flux(self, u: torch.Tensor) -> torch.Tensor:
        r"""The dealiased :math:`-\tfrac12 ik\,\widehat{u^2}` of a field ``u`` ``(B, 1, N)``."""
        # u is a fresh buffer: square it in place unless autograd records it
        u2 = u.mul_(u) if can_update(u) else u * u
        return self.to_fourier(u2, self._flux_factor)

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.grid.irfft(u_hat).detach().abs().max()
