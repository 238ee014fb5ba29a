"""Weakly compressible inviscid fluid (water), NCLaw's "volume" elasticity + volume plasticity.

Equation of state in Kirchhoff form, with ``J = det F``:

.. math::

    τ = λ J (J − 1) I \\qquad (\\text{pressure } p = −λ (J − 1)),

and after each step the deformation gradient is reset to its volumetric part ``F ← J^{1/d} I``, so
no shear stress ever builds up (an equation-of-state fluid, not a viscous Newtonian one). The bulk
wave speed is ``c = √(λ/ρ)``. NCLaw preset: ``E = 1e5`` Pa, ``ν = 0.3`` (λ ≈ 5.77e4 Pa),
``ρ = 1e3`` kg/m³.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.decompositions import det
from sciml.solvers.mpm.materials.base import (
    ElasticMaterial,
    MaterialParameterError,
    identity_like,
)


class Fluid(ElasticMaterial):
    """Weakly compressible fluid (see module docstring). ``J`` is floored at ``min_J`` in the
    projection so that an inverted particle cannot produce a NaN root."""

    def __init__(
        self,
        E: float | torch.Tensor,
        nu: float | torch.Tensor,
        *,
        min_J: float = 1e-6,
        learnable: bool = False,
    ) -> None:
        super().__init__(E, nu, learnable=learnable)
        if bool((torch.as_tensor(nu) <= 0).any()):
            raise MaterialParameterError(
                f"a fluid needs nu in (0, 0.5) so that its bulk modulus lambda is > 0, got {nu}"
            )
        self.min_J = min_J

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        _, lam = self.lame(F)
        J = det(F)
        return (lam * J * (J - 1))[..., None, None] * identity_like(F)

    def project(self, F: torch.Tensor) -> torch.Tensor:
        J = det(F).clamp_min(self.min_J)
        return J.pow(1.0 / F.shape[-1])[..., None, None] * identity_like(F)

    def wave_speed(self, density: torch.Tensor) -> torch.Tensor:
        """``(B|1,)`` bulk wave speed ``√(λ/ρ)`` (m/s) for the lightest particle of each scene."""
        E, nu = self.E.detach().reshape(-1), self.nu.detach().reshape(-1)
        lam = E * nu / ((1 + nu) * (1 - 2 * nu))
        rho = density.detach().amin(-1).to(lam.dtype)
        return torch.sqrt(lam.to(rho.device) / rho)
