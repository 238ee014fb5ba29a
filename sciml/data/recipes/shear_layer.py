r"""Shear layer: two perturbed periodic shear layers rolling up by the Kelvin–Helmholtz instability
(Poseidon's downstream task NS-SL, not a pretraining family).

Initial velocity on the unit torus (double shear layer of Bell, Colella & Glaz, J. Comput. Phys.
85, 1989, with a random multi-mode perturbation as in the CNO/Poseidon shear-layer data):

.. math::

    u_0(x, y) = \begin{cases} \tanh\big(2\pi(y - \tfrac14)/\rho\big) & y \le \tfrac12 \\
                               \tanh\big(2\pi(\tfrac34 - y)/\rho\big) & y > \tfrac12 \end{cases},
    \qquad
    v_0(x) = \delta \sum_{k=1}^{p} \alpha_k \sin(2\pi k x + \beta_k),

with the thickness :math:`\rho \sim U[\rho_{lo}, \rho_{hi}]` per trajectory (default
``[0.08, 0.12]``), :math:`\delta = 0.025`, :math:`p = 10`, :math:`\alpha_k \sim U[0, 1]`,
:math:`\beta_k \sim U[0, 2\pi]`. Raonić et al. (CNO, NeurIPS 2023) and Herde et al. (Poseidon,
NeurIPS 2024) perturb the layer differently (through the interface position; their exact
formula and ranges are not checked here); we perturb :math:`v_0`, which keeps :math:`(u_0, v_0)`
exactly divergence-free (``u_0`` depends on ``y`` only, ``v_0`` on ``x`` only), so the stored
velocity at ``t = 0`` *is* :math:`(u_0, v_0)`. Viscosity and time axis as the other NS families
(:math:`\nu = 4\cdot 10^{-4}`, 21 snapshots on ``[0, 1]``). The layers are thin: keep
``n_fine >= 128``.
File: ``vorticity`` ``(N, T, X, Y)``, ``velocity`` ``(N, T, X, Y, 2)``, scalar ``nu``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator

from sciml.data.recipes.ns_velocity import NSVelocityConfig, NSVelocityRecipe, vorticity_of
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid

__all__ = ["ShearLayer", "ShearLayerConfig", "shear_layer_velocity"]


class ShearLayerConfig(NSVelocityConfig):
    """Shear-layer parameters (CI-sized defaults; ``paper=True``: Poseidon's NS-SL sizes)."""

    PAPER = {**NSVelocityConfig.PAPER, "n_samples": 40360}  # NS-SL: 40000 + 120 + 240

    rho_range: tuple[float, float] = Field(
        default=(0.08, 0.12), description="layer thickness rho ~ U[lo, hi]"
    )
    delta: float = Field(default=0.025, ge=0.0, description="perturbation amplitude")
    n_modes: int = Field(default=10, ge=1, description="perturbation modes p")

    @model_validator(mode="after")
    def _check_layer(self) -> ShearLayerConfig:
        lo, hi = self.rho_range
        if not 0 < lo <= hi:
            raise ValueError(f"rho_range={list(self.rho_range)} must satisfy 0 < lo <= hi")
        if 3 * self.n_modes >= self.n_fine:
            raise ValueError(
                f"n_modes={self.n_modes} is not resolved by n_fine={self.n_fine}: n_fine must be "
                f"> {3 * self.n_modes}"
            )
        return self


def shear_layer_velocity(
    parameters: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The shear-layer velocity :math:`(u_0, v_0)`, each ``(B, 1, X, Y)``.

    ``parameters`` ``(B, 1 + 2p)``: thickness :math:`\\rho`, then the perturbation's amplitudes
    :math:`\\delta\\alpha_k` and phases :math:`\\beta_k`; ``x``, ``y``: coordinates ``(X,)``,
    ``(Y,)``.
    """
    rho = parameters[:, :1, None]  # (B, 1, 1)
    p = (parameters.shape[1] - 1) // 2
    amp, phase = parameters[:, 1 : 1 + p, None], parameters[:, 1 + p :, None]  # (B, p, 1)
    k = torch.arange(1, p + 1, dtype=x.dtype, device=x.device)[:, None]
    lower = torch.tanh(2 * math.pi * (y - 0.25) / rho)
    upper = torch.tanh(2 * math.pi * (0.75 - y) / rho)
    u = torch.where(y <= 0.5, lower, upper)  # (B, 1, Y)
    v = (amp * torch.sin(2 * math.pi * k * x + phase)).sum(1)  # (B, X)
    b, nx, ny = parameters.shape[0], x.shape[0], y.shape[0]
    return u[:, None].expand(b, 1, nx, ny), v[:, None, :, None].expand(b, 1, nx, ny)


@RECIPES.register("shear_layer")
class ShearLayer(NSVelocityRecipe):
    """Perturbed double shear layer on the unit torus (Kelvin-Helmholtz roll-up), nu = 4e-4."""

    Config = ShearLayerConfig
    summary = "2D Navier-Stokes (u, v, vorticity), perturbed double shear layer (Poseidon NS-SL)"
    name = "shear_layer"

    def draw(self, config: ShearLayerConfig, size: int, generator: torch.Generator) -> torch.Tensor:
        """Parameters ``(size, 1 + 2p)`` (float64, CPU) of :func:`shear_layer_velocity`."""
        p = config.n_modes
        u = torch.rand(size, 1 + 2 * p, generator=generator, dtype=torch.float64)
        lo, hi = config.rho_range
        rho = lo + (hi - lo) * u[:, :1]
        return torch.cat([rho, config.delta * u[:, 1 : 1 + p], 2 * math.pi * u[:, 1 + p :]], 1)

    def initial_vorticity(
        self,
        config: ShearLayerConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        parameters = self.draw(config, size, generator).to(grid.device, grid.dtype)
        x, y = (c.reshape(-1) for c in grid.coordinates())
        return vorticity_of(grid, *shear_layer_velocity(parameters, x, y))
