"""NCLaw: neural constitutive laws that are rotation-equivariant and stress-free at rest.

Ma et al., "Learning Neural Constitutive Laws from Motion Observations for Generalizable PDE
Dynamics", ICML 2023 (arXiv 2304.14369), the ``invariant_full_meta`` configuration.

Both networks see rotation-invariant features of the deformation gradient ``F = U Σ Vᵀ``
(``R = U Vᵀ``), of size ``d + d² + 1``:

.. math::

    z(F) = [\\,σ − 1,\\; \\operatorname{vec}(FᵀF − I),\\; \\det F − 1\\,],

and an MLP ``z → 64 → 64 → d²`` with GELU and **no bias anywhere** (Xavier init).

* **Elastic law:** ``S = sym(MLP_e(z))``, first Piola–Kirchhoff ``P = R S``, Kirchhoff
  ``τ = P Fᵀ``.
* **Plastic law** (a learned return mapping): ``F ← F + α R sym(MLP_p(z))``, ``α = 10⁻³``.

By construction ``z(QF) = z(F)`` and ``R(QF) = Q R(F)`` for rotations ``Q``, so ``P(QF) = Q P(F)``
(and ``τ(QF) = Q τ Qᵀ``); at ``F = I`` every feature is 0, GELU(0) = 0 and there is no bias, so
``P(I) = 0`` exactly and the plastic correction vanishes. The singular values and ``R`` come from
:func:`sciml.solvers.mpm.decompositions.svd` (finite gradients at ``F = I``).

:class:`NCLaw` is a constitutive law for :class:`sciml.solvers.mpm.MPMSimulator`
(``stress`` / ``project``; no closed-form wave speed, so the CFL check uses particle speeds only).
Shapes: ``F`` ``(..., d, d)`` → ``τ`` ``(..., d, d)`` in Pa (times ``stress_scale``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciml.models.config import strict_config
from sciml.registry import MODELS
from sciml.solvers.mpm.decompositions import det, svd


def invariant_features(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Invariant features ``z`` ``(..., d + d² + 1)`` and the rotation ``R`` ``(..., d, d)``."""
    d = F.shape[-1]
    U, sigma, V = svd(F)
    R = U @ V.transpose(-1, -2)
    eye = torch.eye(d, dtype=F.dtype, device=F.device)
    cauchy_green = F.transpose(-1, -2) @ F - eye
    J = det(F)
    z = torch.cat([sigma - 1, cauchy_green.flatten(-2), (J - 1).unsqueeze(-1)], dim=-1)
    return z, R


def gelu_mlp(widths: Sequence[int], *, bias: bool) -> nn.Sequential:
    """``Linear(widths[0] → widths[1]) → GELU → … → Linear(… → widths[-1])`` (no final GELU)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b, bias=bias))
        if i < len(widths) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


def _sym(M: torch.Tensor) -> torch.Tensor:
    return 0.5 * (M + M.transpose(-1, -2))


class InvariantMLP(nn.Module):
    """Bias-free GELU MLP ``(..., d + d² + 1) → (..., d, d)`` on :func:`invariant_features`.

    Parameters
    ----------
    dim:
        Spatial dimension ``d`` (2 or 3).
    hidden:
        Hidden widths (NCLaw: ``(64, 64)``).
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"NCLaw dimension must be 2 or 3, got {dim}")
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden widths must be positive integers, got {list(hidden)}")
        self.dim = dim
        self.net = gelu_mlp([dim + dim * dim + 1, *hidden, dim * dim], bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights, as in NCLaw."""
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Symmetric network output ``(..., d, d)`` and the rotation ``R`` of ``F``."""
        if F.shape[-2:] != (self.dim, self.dim):
            raise ValueError(
                f"expected deformation gradients of shape (..., {self.dim}, {self.dim}), "
                f"got {tuple(F.shape)}"
            )
        z, R = invariant_features(F)
        out = self.net(z).unflatten(-1, (self.dim, self.dim))
        return _sym(out), R


class NCLawElastic(InvariantMLP):
    """Elastic network: ``P = R · sym(MLP(z))``, ``τ = P Fᵀ`` (see module docstring).

    Parameters
    ----------
    stress_scale:
        Multiplies the network's symmetric output (Pa); 1 as in NCLaw, whose optimiser (Adam,
        lr 1.0) learns the magnitude directly.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64), stress_scale: float = 1.0):
        super().__init__(dim, hidden)
        self.stress_scale = stress_scale

    def first_piola(self, F: torch.Tensor) -> torch.Tensor:
        """``(..., d, d)`` first Piola–Kirchhoff stress ``P = R S`` (Pa)."""
        S, R = super().forward(F)
        return self.stress_scale * (R @ S)

    def forward(self, F: torch.Tensor) -> torch.Tensor:
        """``(..., d, d)`` Kirchhoff stress ``τ = P Fᵀ`` (Pa)."""
        return self.first_piola(F) @ F.transpose(-1, -2)


class NCLawPlastic(InvariantMLP):
    """Plastic network: ``F ← F + α R · sym(MLP(z))``, ``α = 10⁻³`` (a learned return mapping)."""

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64), alpha: float = 1e-3):
        super().__init__(dim, hidden)
        self.alpha = alpha

    def forward(self, F: torch.Tensor) -> torch.Tensor:
        """``(..., d, d)`` corrected deformation gradient."""
        S, R = super().forward(F)
        return F + self.alpha * (R @ S)


class NCLaw(nn.Module):
    """Elastic + (optional) plastic NCLaw networks, usable as an MPM material.

    Parameters
    ----------
    dim:
        Spatial dimension (2 or 3).
    hidden:
        Hidden widths of both MLPs.
    plastic:
        Include the plastic network (otherwise ``project`` is the identity).
    alpha:
        Step size of the plastic correction.
    stress_scale:
        Output scale of the elastic network (Pa).
    """

    def __init__(
        self,
        dim: int = 3,
        hidden: Sequence[int] = (64, 64),
        plastic: bool = True,
        alpha: float = 1e-3,
        stress_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.elastic = NCLawElastic(dim, hidden, stress_scale)
        self.plastic = NCLawPlastic(dim, hidden, alpha) if plastic else None

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        """Kirchhoff stress ``τ`` ``(..., d, d)`` (Pa)."""
        return self.elastic(F)

    def first_piola(self, F: torch.Tensor) -> torch.Tensor:
        """First Piola–Kirchhoff stress ``P`` ``(..., d, d)`` (Pa)."""
        return self.elastic.first_piola(F)

    def project(self, F: torch.Tensor) -> torch.Tensor:
        """Learned plastic correction of the trial ``F`` (identity without the plastic network)."""
        return F if self.plastic is None else self.plastic(F)

    def forward(self, F: torch.Tensor) -> torch.Tensor:
        """Kirchhoff stress, so the law is also a plain ``F → τ`` module."""
        return self.stress(F)


MODELS.register("nclaw")(strict_config("nclaw")(NCLaw))
