r"""Linear advection :math:`\partial_t u + \mathbf c\cdot\nabla u = 0` (1D/2D/3D, periodic).

Fourier symbol :math:`L(k) = -i\,\mathbf c\cdot\mathbf k` (Nyquist modes zeroed), no nonlinear
term, so every ETDRK scheme is exact: :math:`\hat u(t) = e^{-i\mathbf c\cdot\mathbf k t}\hat u_0`.
PDEBench (Takamoto et al., NeurIPS 2022 D&B) uses 1D advection with
:math:`\beta \in \{0.1, 0.4, 1, 4\}` on :math:`[0, 1)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["Advection"]


@EQUATIONS.register("advection")
class Advection(SpectralEquation):
    """Linear advection with constant velocity.

    Parameters
    ----------
    grid:
        Periodic grid.
    velocity:
        :math:`\\mathbf c`: one number / ``(B,)`` tensor per spatial axis (a single value is used
        on every axis).
    """

    def __init__(
        self,
        grid: Grid,
        velocity: float | torch.Tensor | Sequence[float | torch.Tensor] = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(grid, **kwargs)
        if isinstance(velocity, (list, tuple)):
            if len(velocity) != grid.ndim:
                raise ValueError(
                    f"velocity needs one component per axis ({grid.ndim}), got {len(velocity)}"
                )
            components = list(velocity)
        else:
            components = [velocity] * grid.ndim
        self.velocity = [self.param(f"velocity_{a}", c) for a, c in enumerate(components)]

    def linear_symbol(self) -> torch.Tensor:
        return -sum(c * self.grid.derivative_symbol(a, 1) for a, c in enumerate(self.velocity))

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(u_hat)
