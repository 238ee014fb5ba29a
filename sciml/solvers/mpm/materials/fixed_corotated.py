"""Fixed-corotated elasticity (jelly): Stomakhin et al. 2012, as used by NCLaw's "jelly" preset.

.. math::

    τ = 2μ (F − R) Fᵀ + λ J (J − 1) I,\\qquad F = R S,\\; J = \\det F.

``R`` comes from :func:`~sciml.solvers.mpm.decompositions.polar` (3D: scaled Newton iteration
with a closed-form backward; in 2D ``R Fᵀ`` has a closed form and ``R`` is never formed), so
gradients stay finite at ``F = I``. NCLaw preset: ``E = 1e5`` Pa,
``ν = 0.2``, ``ρ = 1e3`` kg/m³, no plasticity.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.decompositions import det, polar
from sciml.solvers.mpm.materials.base import ElasticMaterial
from sciml.solvers.mpm.smallmat import channels, matmul, unchannels


class FixedCorotated(ElasticMaterial):
    """Fixed-corotated hyperelastic law (see module docstring); ``stress`` maps
    ``F (B, N, d, d)`` to Kirchhoff ``τ (B, N, d, d)`` in Pa (stored channel-first,
    :mod:`~sciml.solvers.mpm.smallmat`)."""

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        mu, lam = self.lame(F)
        if F.shape[-1] == 2:
            return _stress2d(F, 2 * mu, lam)
        R = polar(F)
        J = det(F)
        tau = matmul(2 * mu[..., None, None] * (F - R), F, transpose_b=True)
        tau.diagonal(0, -2, -1).add_((lam * J * (J - 1)).unsqueeze(-1))
        return tau


def _stress2d(F: torch.Tensor, two_mu: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """2D τ without forming ``R``: ``R Fᵀ = R S Rᵀ = (F Fᵀ + J I) / r``.

    ``S = Rᵀ F`` is symmetric with ``tr S = r = √((F₀₀ + F₁₁)² + (F₁₀ − F₀₁)²)`` (the polar
    rotation of :func:`~sciml.solvers.mpm.decompositions.polar2d`) and ``det S = J``, so
    Cayley–Hamilton gives ``S = (S² + J I) / r``. Hence
    ``τ = 2μ (1 − 1/r) F Fᵀ + (λ J (J − 1) − 2μ J / r) I``: a few elementwise ops on the
    channel-first rows of ``F`` (equal to the ``R``-based formula up to rounding).
    """
    batch = torch.broadcast_shapes(F.shape[:-2], two_mu.shape, lam.shape)
    F = F.expand(*batch, 2, 2)
    f = channels(F)  # (2, 2, *b)
    f00, f01, f10, f11 = f[0, 0], f[0, 1], f[1, 0], f[1, 1]
    a, b = f00 + f11, f10 - f01
    r = torch.addcmul(a * a, b, b).sqrt_()
    J = torch.addcmul(f00 * f11, f01, f10, value=-1)
    shear = two_mu / r  # 2μ / r
    tau = channels(matmul(F, F, transpose_b=True)) * (two_mu - shear)  # 2μ (1 − 1/r) F Fᵀ
    tau.diagonal(0, 0, 1).add_((lam * (J - 1) - shear).mul_(J).unsqueeze(-1))
    return unchannels(tau)
