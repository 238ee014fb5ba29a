r"""Allen–Cahn :math:`\partial_t u = \varepsilon\,\Delta u + u - u^3` (1D/2D/3D, periodic).

:math:`L(k) = 1 - \varepsilon|\mathbf k|^2`, :math:`\hat N = -\widehat{u^3}`. The cubic term needs
the 1/2 dealiasing fraction (default here). Kassam & Trefethen (2005, §6) solve it with ETDRK4 and
:math:`\varepsilon = 0.01`. Spatially uniform states follow the ODE :math:`u' = u - u^3`, solved by
:math:`u(t) = u_0 e^t/\sqrt{1 + u_0^2(e^{2t} - 1)}`.
"""

from __future__ import annotations

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["AllenCahn"]


@EQUATIONS.register("allen_cahn")
class AllenCahn(SpectralEquation):
    """Allen–Cahn with interface diffusivity ``epsilon`` (float or ``(B,)`` tensor, ``> 0``)."""

    def __init__(
        self,
        grid: Grid,
        epsilon: float | torch.Tensor = 0.01,
        *,
        dealias: str = "2/3",
        dealias_fraction: float = 0.5,
    ) -> None:
        super().__init__(grid, dealias=dealias, dealias_fraction=dealias_fraction)
        self.epsilon = self.param("epsilon", epsilon)
        if (self.epsilon.detach() <= 0).any():
            raise ValueError(f"epsilon must be > 0, got {epsilon}")

    def linear_symbol(self) -> torch.Tensor:
        return 1 + self.epsilon * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        return -self.to_fourier(u * u * u)
