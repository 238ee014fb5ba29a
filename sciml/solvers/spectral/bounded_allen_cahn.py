r"""Allen–Cahn :math:`\partial_t u = \varepsilon\Delta u + u - u^3` between walls (1D–3D).

:math:`L = 1 - \varepsilon|k|^2` on the bounded grid's sine (Dirichlet) or cosine (Neumann)
series; :math:`\hat N = -\widehat{u^3}` with the 1/2 rule (cubic product). :math:`u^3` has the
parity of :math:`u`, so the nonlinear term stays in the same series; the equation is invariant
under :math:`u \mapsto -u(-x)` and :math:`u \mapsto u(-x)`, so the odd/even extension solves the
periodic problem and convergence is spectral for compatible data. Kassam & Trefethen (2005, §6)
solve the Dirichlet problem on :math:`[-1, 1]` with :math:`\varepsilon = 0.01` (with
Chebyshev points and non-zero wall values).
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.bounded_equation import BoundedEquation
from sciml.solvers.spectral.bounded_grid import BoundedGrid

__all__ = ["BoundedAllenCahn"]


class BoundedAllenCahn(BoundedEquation):
    """Allen–Cahn with interface diffusivity ``epsilon`` (float or ``(B,)`` tensor, ``> 0``)."""

    def __init__(
        self,
        grid: BoundedGrid,
        epsilon: float | torch.Tensor = 0.01,
        *,
        dealias_fraction: float = 0.5,
    ) -> None:
        super().__init__(grid, dealias_fraction=dealias_fraction)
        self.epsilon = self.param("epsilon", epsilon)
        if (self.epsilon.detach() <= 0).any():
            raise ValueError(f"epsilon must be > 0, got {epsilon}")

    def linear_symbol(self) -> torch.Tensor:
        return 1 + self.epsilon * self.grid.laplacian_symbol()

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = self.to_physical(u_hat)
        return -self.to_spectrum(u * u * u)
