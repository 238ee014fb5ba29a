r"""Kuramoto–Sivashinsky in 2D (and 1D/3D), combustion (gradient) form.

.. math:: \partial_t u + \tfrac12|\nabla u|^2 + \Delta u + \Delta^2 u = 0.

:math:`L(k) = |\mathbf k|^2 - |\mathbf k|^4`, :math:`\hat N = -\tfrac12\widehat{|\nabla u|^2}`
(dealiased). In 1D, :math:`v = \partial_x u` satisfies the conservative form of
:mod:`~sciml.solvers.spectral.ks`. Kalogirou, Keaveny & Papageorgiou (Proc. R. Soc. A 471, 2015)
study the 2D dynamics on periodic domains; exponax ships the same form as its 2D KS stepper.
The mean of ``u`` drifts (``N`` has a non-zero mean), unlike the conservative 1D form.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["KuramotoSivashinsky2D"]


@EQUATIONS.register("ks2d")
class KuramotoSivashinsky2D(SpectralEquation):
    """Gradient-form KS on any periodic grid; the domain length is the bifurcation parameter."""

    def __init__(self, grid: Grid, **kwargs: Any) -> None:
        super().__init__(grid, **kwargs)
        self._grad = [grid.derivative_symbol(a, 1) for a in range(grid.ndim)]

    def linear_symbol(self) -> torch.Tensor:
        k2 = -self.grid.laplacian_symbol()
        return k2 - k2**2

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        grad_sq = sum(self.to_physical(d * u_hat) ** 2 for d in self._grad)
        return -0.5 * self.to_fourier(grad_sq)

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        # the advecting velocity of the gradient form is ∇u
        return sum(self.grid.irfft(d * u_hat.detach()).abs() for d in self._grad).max()
