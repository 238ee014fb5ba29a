r"""NS-Sines: incompressible Navier–Stokes from random sine-series velocities (a Poseidon
pretraining family).

Herde et al., "Poseidon: Efficient Foundation Models for PDEs" (NeurIPS 2024, App. B): on the unit
torus with :math:`\nu = 4\cdot10^{-4}`, 21 snapshots on :math:`[0, 1]`, initial velocity

.. math::

    u_0(x, y) = \sum_{i,j=1}^{p} \frac{\alpha_{ij}}{\sqrt{2\pi(i + j)}}
        \sin(2\pi i x + \beta_{ij})\,\sin(2\pi j y + \gamma_{ij}),

and :math:`v_0` the same with independent draws, :math:`p = 10`, :math:`\alpha \sim U[-1, 1]`,
:math:`\beta, \gamma \sim U[0, 2\pi]` (our reading of the paper's appendix; the paper's own data
were not available to compare against). The solver evolves
:math:`\omega_0 = \partial_x v_0 - \partial_y u_0`, so the stored velocity is the divergence-free
projection of :math:`(u_0, v_0)` (see :mod:`~sciml.data.recipes.ns_velocity`).
File: ``vorticity`` ``(N, T, X, Y)``, ``velocity`` ``(N, T, X, Y, 2)``, scalar ``nu``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator

from sciml.data.recipes.ns_velocity import NSVelocityConfig, NSVelocityRecipe, vorticity_of
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid

__all__ = ["NSSines", "NSSinesConfig", "sine_series_velocity"]


class NSSinesConfig(NSVelocityConfig):
    """NS-Sines parameters (CI-sized defaults; ``paper=True``: Poseidon's sizes)."""

    n_modes: int = Field(default=10, ge=1, description="modes p per axis (Poseidon: 10)")

    @model_validator(mode="after")
    def _modes_resolved(self) -> NSSinesConfig:
        if 3 * self.n_modes >= self.n_fine:
            raise ValueError(
                f"n_modes={self.n_modes} is not resolved by n_fine={self.n_fine}: the dealiased "
                f"solver keeps modes below n_fine/3, so n_fine must be > {3 * self.n_modes}"
            )
        return self


def sine_series_velocity(
    coefficients: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The NS-Sines velocity :math:`(u_0, v_0)` of drawn coefficients.

    Parameters
    ----------
    coefficients:
        ``(B, 2, 3, p, p)``: for ``u`` (index 0) and ``v`` (1) the amplitudes :math:`\alpha_{ij}`,
        phases :math:`\beta_{ij}` and :math:`\gamma_{ij}`.
    x, y:
        Grid coordinates ``(X,)`` and ``(Y,)``.

    Returns
    -------
    ``u, v``, each ``(B, 1, X, Y)``.
    """
    p = coefficients.shape[-1]
    modes = torch.arange(1, p + 1, dtype=x.dtype, device=x.device)
    i, j = modes[:, None], modes[None, :]
    out = []
    for component in coefficients.unbind(1):
        alpha, beta, gamma = component.unbind(1)  # (B, p, p)
        amp = alpha / torch.sqrt(2 * math.pi * (i + j))
        sx = torch.sin(2 * math.pi * i[..., None] * x + beta[..., None])  # (B, p, p, X)
        sy = torch.sin(2 * math.pi * j[..., None] * y + gamma[..., None])  # (B, p, p, Y)
        out.append(torch.einsum("bij,bijx,bijy->bxy", amp, sx, sy)[:, None])
    return out[0], out[1]


@RECIPES.register("ns_sines")
class NSSines(NSVelocityRecipe):
    """Poseidon's NS-Sines: random sine-series velocity on the unit torus, nu = 4e-4."""

    Config = NSSinesConfig
    summary = "2D Navier-Stokes (u, v, vorticity), random sine-series velocity (Poseidon NS-Sines)"
    name = "ns_sines"

    def draw(self, config: NSSinesConfig, size: int, generator: torch.Generator) -> torch.Tensor:
        """Coefficients ``(size, 2, 3, p, p)`` (float64, CPU) of :func:`sine_series_velocity`."""
        p = config.n_modes
        c = torch.rand(size, 2, 3, p, p, generator=generator, dtype=torch.float64)
        scale = torch.tensor([2.0, 2 * math.pi, 2 * math.pi], dtype=torch.float64)
        shift = torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64)
        return c * scale[:, None, None] + shift[:, None, None]

    def initial_vorticity(
        self,
        config: NSSinesConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        coefficients = self.draw(config, size, generator).to(grid.device, grid.dtype)
        x, y = (c.reshape(-1) for c in grid.coordinates())
        return vorticity_of(grid, *sine_series_velocity(coefficients, x, y))
