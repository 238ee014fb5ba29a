r"""Kuramoto–Sivashinsky equation (1D, chaotic for domain lengths :math:`L \gtrsim 22`).

.. math:: \partial_t u + u\,\partial_x u + \partial_{xx}u + \partial_{xxxx}u = 0.

:math:`L(k) = k^2 - k^4` (long waves grow, short waves decay), :math:`\hat N = -\tfrac12 ik\,
\widehat{u^2}`. Kassam & Trefethen (2005, §3) integrate it on :math:`[0, 32\pi)` from
:math:`u_0 = \cos(x/16)(1 + \sin(x/16))` with ETDRK4, ``N = 128``, ``h = 1/4``.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["KuramotoSivashinsky"]


@EQUATIONS.register("ks")
class KuramotoSivashinsky(SpectralEquation):
    """1D KS; the domain length (set on the grid) is the bifurcation parameter."""

    spatial_dims = (1,)

    def __init__(self, grid: Grid, **kwargs: Any) -> None:
        super().__init__(grid, **kwargs)
        self._dx = grid.derivative_symbol(0, 1)

    def linear_symbol(self) -> torch.Tensor:
        k2 = -self.grid.laplacian_symbol()
        return k2 - k2**2

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        return -0.5 * self._dx * self.to_fourier(u * u)

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.grid.irfft(u_hat).detach().abs().max()
