"""Hencky elasticity with a von Mises return mapping in log-strain space (plasticine; NCLaw).

Trial strain ``ε = ½ log(F Fᵀ)`` (stretches clamped at ``σ ≥ σ_min = 0.05`` as in NCLaw); with
``ε̂ = dev ε`` the plastic multiplier is ``Δγ = max(0, ‖ε̂‖ − τ_y / (2μ))`` and the returned strain
``ε* = ε − Δγ ε̂ / ‖ε̂‖`` (radial return; Simo & Hughes 1998, §9.2; Klár et al. 2016). Because
``ε*`` and ``ε`` share eigenvectors, the returned deformation gradient is

.. math::

    F^{*} = \\exp(ε^{*}) R = \\exp(ε^{*} − ε_{\\text{true}})\\, F,

computed with symmetric matrix functions only (no SVD). NCLaw preset: ``E = 3e5`` Pa, ``ν = 0.25``,
``τ_y = 5e3`` Pa, ``ρ = 1e3`` kg/m³.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.decompositions import sym_exp
from sciml.solvers.mpm.materials.base import (
    MaterialParameterError,
    as_tensor_parameter,
    per_scene,
)
from sciml.solvers.mpm.materials.hencky import HenckyElastic, deviator, hencky_strain


class VonMises(HenckyElastic):
    """Hencky + von Mises plasticity.

    Parameters
    ----------
    E, nu:
        Young's modulus (Pa) and Poisson's ratio.
    yield_stress:
        Kirchhoff yield stress τ_y (Pa), ≥ 0.
    min_stretch:
        Lower clamp on principal stretches in the return mapping (NCLaw: 0.05).
    learnable:
        Store ``E``, ``ν`` and ``yield_stress`` as parameters.
    """

    def __init__(
        self,
        E: float | torch.Tensor,
        nu: float | torch.Tensor,
        yield_stress: float | torch.Tensor,
        *,
        min_stretch: float = 0.05,
        learnable: bool = False,
    ) -> None:
        super().__init__(E, nu, learnable=learnable)
        ys = torch.as_tensor(yield_stress).detach()
        if not bool(torch.isfinite(ys).all()) or bool((ys < 0).any()):
            raise MaterialParameterError(
                f"yield_stress must be finite and >= 0 Pa, got {yield_stress}"
            )
        as_tensor_parameter(self, "yield_stress", yield_stress, learnable=learnable)
        self.min_stretch = min_stretch

    def project(self, F: torch.Tensor) -> torch.Tensor:
        mu, _ = self.lame(F)
        eps_true = hencky_strain(F)
        eps = hencky_strain(F, self.min_stretch)
        dev, norm, _ = deviator(eps)
        gamma = torch.relu(norm - per_scene(self.yield_stress, F) / (2 * mu))
        direction = dev / torch.where(norm > 0, norm, torch.ones_like(norm))[..., None, None]
        correction = eps - eps_true - gamma[..., None, None] * direction
        return sym_exp(correction) @ F
