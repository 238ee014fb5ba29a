r"""Forced Navier–Stokes: NS-Sines initial data driven by a steady vorticity forcing stored as a
field (Poseidon's downstream task FNS-KF, "forcing as an extra input channel"; not a pretraining
family).

.. math::

    \partial_t\omega + \mathbf u\cdot\nabla\omega = \nu\Delta\omega + f, \qquad
    f(x, y) = A \sin\big(2\pi(x + y)\big), \quad A = 0.1,

on the unit torus with the initial velocity of :mod:`~sciml.data.recipes.ns_sines` and the time
axis and viscosity of the other NS families. Herde et al. (Poseidon, NeurIPS 2024, App. B) name the
forcing :math:`0.1\sin(2\pi(x + y))`; we read it as a forcing of the vorticity equation (a forcing
:math:`(f, f)` of both velocity components would be a gradient and drive nothing), which is not
checked against their data. File: ``vorticity`` ``(N, T, X, Y)``, ``velocity``
``(N, T, X, Y, 2)`` and the time-constant ``forcing`` ``(N, X, Y)`` (the same for every
trajectory), scalars ``nu`` and ``forcing_amplitude``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field

from sciml.data.recipes.ns_sines import NSSines, NSSinesConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralEquation

__all__ = ["NSForced", "NSForcedConfig"]


class NSForcedConfig(NSSinesConfig):
    """Forced-NS parameters (CI-sized defaults; ``paper=True``: Poseidon's FNS-KF sizes)."""

    forcing_amplitude: float = Field(default=0.1, description="A of f = A sin(2 pi (x + y))")


@RECIPES.register("ns_forced")
class NSForced(NSSines):
    """NS-Sines data with the steady vorticity forcing 0.1 sin(2 pi (x + y)) (Poseidon FNS-KF)."""

    Config = NSForcedConfig
    summary = "2D Navier-Stokes (u, v, vorticity, forcing), forcing 0.1 sin(2pi(x+y)) (FNS-KF)"
    name = "ns_forced"
    constant_fields = ("forcing",)

    def constant_field(self, name: str, config: NSForcedConfig, grid: Grid) -> torch.Tensor:  # type: ignore[override]
        if name != "forcing":
            return super().constant_field(name, config, grid)
        x, y = grid.coordinates()  # (1, 1, N, 1), (1, 1, 1, N)
        return config.forcing_amplitude * torch.sin(2 * math.pi * (x + y))[0, 0]

    def equation(self, grid: Grid, config: NSForcedConfig) -> SpectralEquation:  # type: ignore[override]
        forcing = self.constant_field("forcing", config, grid)
        return NavierStokes2D(grid, nu=config.nu, forcing=forcing[None, None])

    def scalars(self, config: NSForcedConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu, "forcing_amplitude": config.forcing_amplitude}
