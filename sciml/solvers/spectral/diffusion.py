r"""Diffusion (heat) equation :math:`\partial_t u = \nu\Delta u` (1D/2D/3D, periodic).

Fourier symbol :math:`L(k) = -\nu|\mathbf k|^2`; exact under every ETDRK scheme,
:math:`\hat u(t) = e^{-\nu|\mathbf k|^2 t}\hat u_0`.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["Diffusion"]


@EQUATIONS.register("diffusion")
class Diffusion(SpectralEquation):
    """Heat equation with diffusivity ``nu`` (float or ``(B,)`` tensor, ``>= 0``)."""

    def __init__(self, grid: Grid, nu: float | torch.Tensor = 0.01, **kwargs: Any) -> None:
        super().__init__(grid, **kwargs)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"diffusivity nu must be >= 0, got {nu}")

    def linear_symbol(self) -> torch.Tensor:
        return self.nu * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(u_hat)
