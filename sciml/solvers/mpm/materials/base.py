"""Common interface of MPM constitutive laws and validated isotropic elastic parameters.

A constitutive law is any ``nn.Module`` with

* ``stress(F) -> τ`` — the Kirchhoff stress ``τ = P Fᵀ`` (Pa), ``F`` of shape ``(B, N, d, d)``;
* ``project(F) -> F`` — the plastic return mapping applied to the trial ``F`` after each step
  (identity for purely elastic laws);
* ``wave_speed(density) -> c`` — the largest elastic wave speed (m/s) used by the CFL check, or
  ``None`` when the law has no closed-form estimate (a neural law).

Elastic parameters follow NCLaw (Ma et al. 2023): Young's modulus ``E`` (Pa) and Poisson's ratio
``ν`` as tensors — scalars, or ``(B,)`` for one value per scene of a batch — stored as parameters
when ``learnable`` and as buffers otherwise (a tensor that requires grad passed as a buffer keeps
its graph, which is how the gradient tests differentiate through ``E``). Lamé constants
``μ = E / (2(1+ν))``, ``λ = Eν / ((1+ν)(1−2ν))``.
"""

from __future__ import annotations

import torch
from torch import nn


class MaterialParameterError(ValueError):
    """Non-physical material parameters (E ≤ 0, ν outside (−1, 0.5), negative yield stress…)."""


def as_tensor_parameter(
    module: nn.Module, name: str, value: float | torch.Tensor, *, learnable: bool
) -> None:
    """Register ``value`` on ``module`` as a parameter (``learnable``) or a buffer."""
    t = (
        value
        if isinstance(value, torch.Tensor)
        else torch.tensor(float(value), dtype=torch.float64)
    )
    if t.dim() > 1:
        raise MaterialParameterError(
            f"material parameter {name} must be a scalar or a (B,) tensor, "
            f"got shape {tuple(t.shape)}"
        )
    if learnable:
        module.register_parameter(name, nn.Parameter(t.detach().clone()))
    else:
        module.register_buffer(name, t)


def per_scene(p: torch.Tensor, F: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or ``(B,)`` parameter against ``(B, N, ...)``: shape ``(B|1, 1)``."""
    return p.to(dtype=F.dtype, device=F.device).reshape(-1, 1)


class ElasticMaterial(nn.Module):
    """Base class holding validated ``E`` and ``ν``; subclasses implement :meth:`stress`.

    Parameters
    ----------
    E:
        Young's modulus (Pa), > 0.
    nu:
        Poisson's ratio, in (−1, 0.5).
    learnable:
        Store ``E`` and ``ν`` as ``nn.Parameter`` s.
    """

    def __init__(
        self, E: float | torch.Tensor, nu: float | torch.Tensor, *, learnable: bool = False
    ) -> None:
        super().__init__()
        e = torch.as_tensor(E).detach()
        n = torch.as_tensor(nu).detach()
        if not bool(torch.isfinite(e).all()) or bool((e <= 0).any()):
            raise MaterialParameterError(f"Young's modulus E must be finite and > 0 Pa, got {E}")
        if not bool(torch.isfinite(n).all()) or bool((n >= 0.5).any()) or bool((n <= -1).any()):
            raise MaterialParameterError(
                f"Poisson's ratio nu must lie in (-1, 0.5), got {nu} "
                "(nu >= 0.5 is incompressible: lambda is infinite)"
            )
        as_tensor_parameter(self, "E", E, learnable=learnable)
        as_tensor_parameter(self, "nu", nu, learnable=learnable)
        self._lame_cache: tuple[tuple, tuple[torch.Tensor, torch.Tensor]] | None = None

    def lame(self, F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, λ)`` in Pa, each ``(B|1, 1)`` to broadcast over particles.

        Kept between calls while ``E`` and ``ν`` are unchanged (same storage and version) and
        no gradient flows to them (a rollout of many steps then converts them once)."""
        E, nu = self.E, self.nu
        if torch.is_grad_enabled() and (E.requires_grad or nu.requires_grad):
            return self._lame(F)
        key = (F.dtype, F.device, E.data_ptr(), E._version, nu.data_ptr(), nu._version)
        if self._lame_cache is None or self._lame_cache[0] != key:
            self._lame_cache = (key, self._lame(F))
        return self._lame_cache[1]

    def _lame(self, F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        E, nu = per_scene(self.E, F), per_scene(self.nu, F)
        return E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))

    def project(self, F: torch.Tensor) -> torch.Tensor:
        """No plasticity: the trial deformation gradient is kept."""
        return F

    def wave_speed(self, density: torch.Tensor) -> torch.Tensor:
        """``(B|1,)`` P-wave speed ``√((λ + 2μ)/ρ)`` (m/s), lightest particle per scene."""
        E, nu = self.E.detach().reshape(-1), self.nu.detach().reshape(-1)
        modulus = E * (1 - nu) / ((1 + nu) * (1 - 2 * nu))
        rho = density.detach().amin(-1).to(modulus.dtype)
        return torch.sqrt(modulus.to(rho.device) / rho)

    def extra_repr(self) -> str:
        return f"E={self.E.detach().tolist()}, nu={self.nu.detach().tolist()}"


def identity_like(F: torch.Tensor) -> torch.Tensor:
    """``(..., d, d)`` identity matching ``F``."""
    return torch.eye(F.shape[-1], dtype=F.dtype, device=F.device).expand_as(F)
