r"""Korteweg–de Vries :math:`\partial_t u + \alpha\,u\,\partial_x u + \beta\,\partial_{xxx} u
= \nu\,\partial_{xx} u` (1D).

:math:`L(k) = i\beta k^3 - \nu k^2` (the stiff dispersion is integrated exactly by ETDRK),
:math:`\hat N = -\tfrac{\alpha}{2} ik\,\widehat{u^2}`. With :math:`\alpha = 6, \beta = 1, \nu = 0`
the soliton :math:`u = \tfrac c2\operatorname{sech}^2\big(\tfrac{\sqrt c}{2}(x - ct)\big)` is exact
(:func:`sciml.solvers.exact.kdv_soliton`; Kassam & Trefethen 2005, §6 use the two-soliton case).
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["KdV"]


@EQUATIONS.register("kdv")
class KdV(SpectralEquation):
    """KdV with nonlinearity ``alpha``, dispersion ``beta`` and optional viscosity ``nu``."""

    spatial_dims = (1,)

    def __init__(
        self,
        grid: Grid,
        alpha: float | torch.Tensor = 6.0,
        beta: float | torch.Tensor = 1.0,
        nu: float | torch.Tensor = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(grid, **kwargs)
        self.alpha = self.param("alpha", alpha)
        self.beta = self.param("beta", beta)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"viscosity nu must be >= 0, got {nu}")
        self._dx = grid.derivative_symbol(0, 1)

    def linear_symbol(self) -> torch.Tensor:
        return -self.beta * self.grid.derivative_symbol(0, 3) + self.nu * (
            self.grid.laplacian_symbol()
        )

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        return -0.5 * self.alpha * self._dx * self.to_fourier(u * u)

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.alpha.detach().abs().max() * self.grid.irfft(u_hat).detach().abs().max()
