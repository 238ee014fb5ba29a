r"""Advection–diffusion :math:`\partial_t u + \mathbf c\cdot\nabla u = \nu\Delta u` (periodic).

Fourier symbol :math:`L(k) = -i\,\mathbf c\cdot\mathbf k - \nu|\mathbf k|^2`; the exact solution
of a Fourier mode is :math:`\hat u(t) = e^{L(k)t}\hat u_0` (see
:func:`sciml.solvers.exact.advection_diffusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.advection import Advection
from sciml.solvers.spectral.grid import Grid

__all__ = ["AdvectionDiffusion"]


@EQUATIONS.register("advection_diffusion")
class AdvectionDiffusion(Advection):
    """Advection with velocity ``velocity`` plus diffusion with diffusivity ``nu``."""

    def __init__(
        self,
        grid: Grid,
        velocity: float | torch.Tensor | Sequence[float | torch.Tensor] = 1.0,
        nu: float | torch.Tensor = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(grid, velocity, **kwargs)
        self.nu = self.param("nu", nu)
        if (self.nu.detach() < 0).any():
            raise ValueError(f"diffusivity nu must be >= 0, got {nu}")

    def linear_symbol(self) -> torch.Tensor:
        return super().linear_symbol() + self.nu * self.grid.laplacian_symbol()
