"""Hencky elasticity with Drucker–Prager plasticity (sand; Klár et al. 2016, §7.3; NCLaw).

With the Hencky strain ``ε = ½ log(F Fᵀ)``, ``ε̂ = dev ε`` and friction coefficient
``α = √(2/3) · 2 sin φ / (3 − sin φ)``:

* ``tr ε ≥ 0`` (expansion, no cohesion): the sand separates, ``ε* = 0`` so ``F* = R``;
* otherwise ``Δγ = ‖ε̂‖ + (dλ + 2μ)/(2μ) · tr(ε) · α``; if ``Δγ > 0`` the strain returns to the
  cone, ``ε* = ε − Δγ ε̂/‖ε̂‖``; else it is unchanged.

As in :mod:`~sciml.solvers.mpm.materials.von_mises`, ``F* = exp(ε* − ε) F``. Cohesion and hardening
are omitted (NCLaw's sand has cohesion 0). NCLaw preset: ``E = 1e6`` Pa, ``ν = 0.2``, ``φ = 25°``,
``ρ = 1e3`` kg/m³.
"""

from __future__ import annotations

import math

import torch

from sciml.solvers.mpm.decompositions import sym_exp
from sciml.solvers.mpm.materials.base import (
    MaterialParameterError,
    as_tensor_parameter,
    per_scene,
)
from sciml.solvers.mpm.materials.hencky import HenckyElastic, deviator, hencky_strain


class DruckerPrager(HenckyElastic):
    """Hencky + Drucker–Prager sand.

    Parameters
    ----------
    E, nu:
        Young's modulus (Pa) and Poisson's ratio.
    friction_angle:
        Friction angle φ in degrees, in [0, 90).
    learnable:
        Store ``E``, ``ν`` and ``friction_angle`` as parameters.
    """

    def __init__(
        self,
        E: float | torch.Tensor,
        nu: float | torch.Tensor,
        friction_angle: float | torch.Tensor = 25.0,
        *,
        learnable: bool = False,
    ) -> None:
        super().__init__(E, nu, learnable=learnable)
        phi = torch.as_tensor(friction_angle).detach()
        if not bool(torch.isfinite(phi).all()) or bool(((phi < 0) | (phi >= 90)).any()):
            raise MaterialParameterError(
                f"friction_angle must lie in [0, 90) degrees, got {friction_angle}"
            )
        as_tensor_parameter(self, "friction_angle", friction_angle, learnable=learnable)

    def project(self, F: torch.Tensor) -> torch.Tensor:
        d = F.shape[-1]
        mu, lam = self.lame(F)
        eps = hencky_strain(F)
        dev, norm, tr = deviator(eps)
        sin_phi = torch.sin(per_scene(self.friction_angle, F) * (math.pi / 180))
        alpha = math.sqrt(2.0 / 3.0) * 2 * sin_phi / (3 - sin_phi)
        gamma = norm + (d * lam + 2 * mu) / (2 * mu) * tr * alpha
        direction = dev / torch.where(norm > 0, norm, torch.ones_like(norm))[..., None, None]
        to_cone = torch.where((gamma > 0)[..., None, None], -gamma[..., None, None] * direction, 0)
        correction = torch.where((tr >= 0)[..., None, None], -eps, to_cone)
        return sym_exp(correction) @ F
