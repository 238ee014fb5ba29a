"""Hencky (logarithmic-strain St-Venant–Kirchhoff) elasticity shared by plasticine and sand.

With the left Hencky strain ``ε = ½ log(F Fᵀ)`` (principal values ``log σ_i``),

.. math::

    τ = 2μ ε + λ \\operatorname{tr}(ε) I = U (2μ \\log Σ + λ \\operatorname{tr}\\log Σ) Uᵀ,

the form of NCLaw's "Sigma"/StVK-Hencky elasticity (Klár et al. 2016, eq. 26). The matrix logarithm
uses :func:`~sciml.solvers.mpm.decompositions.sym_function`, so ``∂τ/∂F`` is exact and finite at
``F = I``.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.decompositions import sym_log
from sciml.solvers.mpm.materials.base import ElasticMaterial, identity_like


def hencky_strain(F: torch.Tensor, min_stretch: float = 0.0) -> torch.Tensor:
    """``(..., d, d)`` left Hencky strain ``½ log(F Fᵀ)``, stretches clamped at ``min_stretch``."""
    return 0.5 * sym_log(F @ F.transpose(-1, -2), floor=min_stretch**2)


def deviator(eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dev ε, ‖dev ε‖_F, tr ε)`` with a norm whose gradient is 0 (not NaN) at 0."""
    d = eps.shape[-1]
    tr = eps.diagonal(dim1=-2, dim2=-1).sum(-1)
    dev = eps - (tr / d)[..., None, None] * identity_like(eps)
    sq = (dev * dev).sum((-1, -2))
    positive = sq > 0
    norm = torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))) * positive
    return dev, norm, tr


class HenckyElastic(ElasticMaterial):
    """Hencky elasticity; base of :class:`VonMises` and :class:`DruckerPrager`."""

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        mu, lam = self.lame(F)
        eps = hencky_strain(F)
        tr = eps.diagonal(dim1=-2, dim2=-1).sum(-1)
        return 2 * mu[..., None, None] * eps + (lam * tr)[..., None, None] * identity_like(F)
