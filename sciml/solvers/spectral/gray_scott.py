r"""Gray–Scott reaction–diffusion (two species, 1D/2D/3D periodic).

.. math::
    \partial_t u = D_u\Delta u - u v^2 + F(1 - u), \qquad
    \partial_t v = D_v\Delta v + u v^2 - (F + \kappa) v.

Channel-wise linear symbols :math:`L_u = -D_u|\mathbf k|^2 - F`,
:math:`L_v = -D_v|\mathbf k|^2 - (F + \kappa)` (shape ``(Bl, 2, *N_f)``) and
:math:`\hat N = (F\delta_{k0} - \widehat{uv^2},\ \widehat{uv^2})`. Pearson (Science 261, 1993) uses
:math:`D_u = 2\cdot10^{-5}, D_v = 10^{-5}` on :math:`[0, 2.5)^2`; the cubic term is dealiased with
the 1/2 fraction by default.
"""

from __future__ import annotations

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["GrayScott"]


@EQUATIONS.register("gray_scott")
class GrayScott(SpectralEquation):
    """Gray–Scott model; state ``(B, 2, *N)`` = ``(u, v)``; parameters floats or ``(B,)``."""

    n_channels = 2

    def __init__(
        self,
        grid: Grid,
        feed_rate: float | torch.Tensor = 0.04,
        kill_rate: float | torch.Tensor = 0.06,
        diffusivity_u: float | torch.Tensor = 2e-5,
        diffusivity_v: float | torch.Tensor = 1e-5,
        *,
        dealias: str = "2/3",
        dealias_fraction: float = 0.5,
    ) -> None:
        super().__init__(grid, dealias=dealias, dealias_fraction=dealias_fraction)
        self.feed_rate = self.param("feed_rate", feed_rate)
        self.kill_rate = self.param("kill_rate", kill_rate)
        self.diffusivity_u = self.param("diffusivity_u", diffusivity_u)
        self.diffusivity_v = self.param("diffusivity_v", diffusivity_v)
        for name, t in self._params.items():
            if (t.detach() < 0).any():
                raise ValueError(f"Gray–Scott parameter {name} must be >= 0")
        # F enters N only through the mean mode: F(1 - u) = F - F u, and -F u is in L
        self._unit = torch.zeros(
            (1, 1, *grid.fourier_shape), dtype=grid.complex_dtype, device=grid.device
        )
        self._unit[(0, 0, *([0] * grid.ndim))] = 1.0

    def linear_symbol(self) -> torch.Tensor:
        lap = self.grid.laplacian_symbol()
        lu = self.diffusivity_u * lap - self.feed_rate
        lv = self.diffusivity_v * lap - (self.feed_rate + self.kill_rate)
        lu, lv = torch.broadcast_tensors(lu, lv)
        return torch.cat([lu, lv], dim=1)

    def nonlinear(self, uv_hat: torch.Tensor) -> torch.Tensor:
        uv = self.to_physical(uv_hat)
        u, v = uv[:, :1], uv[:, 1:]
        r = self.to_fourier(u * v * v)
        return torch.cat([self.feed_rate * self._unit - r, r], dim=1)
