"""A plain-MLP constitutive law: the non-invariant black-box baseline of NCLaw.

Ma et al. (ICML 2023) compare their law with networks that lack its built-in structure. This
one maps the raw deformation gradient to the first Piola–Kirchhoff stress with an ordinary MLP
(biases, GELU):

.. math::

    P(F) = s · \\operatorname{unvec}\\big(\\mathrm{MLP}(\\operatorname{vec} F)\\big),
    \\qquad τ = P Fᵀ,

with ``s`` = ``stress_scale`` (Pa). Compared with :class:`sciml.models.nclaw.NCLaw` it lacks

* **zero stress at rest**: ``P(I) ≠ 0`` in general (biases, and ``vec(I) ≠ 0`` is fed in
  raw), so an undeformed body is not in equilibrium unless training drives ``P(I)`` to 0;
* **rotation equivariance**: ``P(QF) ≠ Q P(F)`` for rotations ``Q`` (the network sees the
  rotation-dependent ``vec F``), so a rigidly rotated body feels a different stress, i.e. the
  law is not frame-indifferent and ``τ`` need not be symmetric;
* plasticity: ``project`` is the identity.

It is a material for :class:`sciml.solvers.mpm.MPMSimulator` with NCLaw's interface
(``stress``, ``first_piola``, ``project``; no ``wave_speed``). Shapes: ``F`` ``(..., d, d)`` →
``τ`` ``(..., d, d)`` in Pa.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciml.models.config import strict_config
from sciml.models.nclaw import gelu_mlp
from sciml.registry import MODELS

__all__ = ["MLPLaw"]


class MLPLaw(nn.Module):
    """``vec(F) → MLP → P``, ``τ = P Fᵀ`` (module docstring).

    Parameters
    ----------
    dim:
        Spatial dimension ``d`` (2 or 3).
    hidden:
        Hidden widths (NCLaw's networks: ``(64, 64)``).
    stress_scale:
        Multiplies the network output (Pa).
    """

    def __init__(
        self, dim: int = 3, hidden: Sequence[int] = (64, 64), stress_scale: float = 1.0
    ) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"MLPLaw dimension must be 2 or 3, got {dim}")
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden widths must be positive integers, got {list(hidden)}")
        self.dim = dim
        self.stress_scale = stress_scale
        self.net = gelu_mlp([dim * dim, *hidden, dim * dim], bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights (as NCLaw's networks) and PyTorch's default biases."""
        for m in self.net:
            if isinstance(m, nn.Linear):
                m.reset_parameters()
                nn.init.xavier_uniform_(m.weight)

    def first_piola(self, F: torch.Tensor) -> torch.Tensor:
        """``(..., d, d)`` first Piola–Kirchhoff stress ``P`` (Pa)."""
        if F.shape[-2:] != (self.dim, self.dim):
            raise ValueError(
                f"expected deformation gradients of shape (..., {self.dim}, {self.dim}), "
                f"got {tuple(F.shape)}"
            )
        out = self.net(F.flatten(-2)).unflatten(-1, (self.dim, self.dim))
        return self.stress_scale * out

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        """``(..., d, d)`` Kirchhoff stress ``τ = P Fᵀ`` (Pa)."""
        return self.first_piola(F) @ F.transpose(-1, -2)

    def project(self, F: torch.Tensor) -> torch.Tensor:
        """No plasticity: the trial deformation gradient is kept."""
        return F

    def forward(self, F: torch.Tensor) -> torch.Tensor:
        """Kirchhoff stress, so the law is also a plain ``F → τ`` module."""
        return self.stress(F)


MODELS.register("mlp_law")(strict_config("mlp_law")(MLPLaw))
