"""Fixed-corotated elasticity (jelly): Stomakhin et al. 2012, as used by NCLaw's "jelly" preset.

.. math::

    τ = 2μ (F − R) Fᵀ + λ J (J − 1) I,\\qquad F = R S,\\; J = \\det F.

``R`` comes from :func:`~sciml.solvers.mpm.decompositions.polar` (closed form in 2D; SVD with a
safe backward in 3D), so gradients stay finite at ``F = I``. NCLaw preset: ``E = 1e5`` Pa,
``ν = 0.2``, ``ρ = 1e3`` kg/m³, no plasticity.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.decompositions import det, polar
from sciml.solvers.mpm.materials.base import ElasticMaterial
from sciml.solvers.mpm.smallmat import matmul


class FixedCorotated(ElasticMaterial):
    """Fixed-corotated hyperelastic law (see module docstring); ``stress`` maps
    ``F (B, N, d, d)`` to Kirchhoff ``τ (B, N, d, d)`` in Pa (stored channel-first,
    :mod:`~sciml.solvers.mpm.smallmat`)."""

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        mu, lam = self.lame(F)
        R = polar(F)
        J = det(F)
        tau = matmul(2 * mu[..., None, None] * (F - R), F, transpose_b=True)
        tau.diagonal(0, -2, -1).add_((lam * J * (J - 1)).unsqueeze(-1))
        return tau
