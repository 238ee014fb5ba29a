"""Particle state of an MLS-MPM simulation (a batch of scenes with the same particle count).

All tensors carry a leading batch dimension ``B`` and share dtype and device. Units are SI:
positions in m, velocities in m/s, the affine velocity ``C`` (APIC, Jiang et al. 2015) in 1/s, the
deformation gradient ``F`` dimensionless, masses in kg and volumes in m³ (in 2D: m² per metre of
depth, so masses are kg per metre of depth).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


class ParticleArrayError(ValueError):
    """Particle arrays whose shapes, dtypes or devices do not fit together."""


@dataclass(frozen=True)
class MPMState:
    """Particles at one instant.

    Attributes
    ----------
    x:
        ``(B, N, d)`` positions (m).
    v:
        ``(B, N, d)`` velocities (m/s).
    C:
        ``(B, N, d, d)`` APIC affine velocity matrices (1/s).
    F:
        ``(B, N, d, d)`` deformation gradients.
    mass:
        ``(B, N)`` particle masses (kg).
    volume:
        ``(B, N)`` initial (reference) particle volumes (m³).
    time:
        ``(B,)`` simulated time (s), used by moving colliders.
    """

    x: torch.Tensor
    v: torch.Tensor
    C: torch.Tensor
    F: torch.Tensor
    mass: torch.Tensor
    volume: torch.Tensor
    time: torch.Tensor

    def __post_init__(self) -> None:
        x = self.x
        if x.dim() != 3 or x.shape[-1] not in (2, 3):
            raise ParticleArrayError(
                f"x must have shape (B, N, d) with d in (2, 3), got {tuple(x.shape)}"
            )
        b, n, d = x.shape
        expected = {
            "v": (b, n, d),
            "C": (b, n, d, d),
            "F": (b, n, d, d),
            "mass": (b, n),
            "volume": (b, n),
            "time": (b,),
        }
        for name, shape in expected.items():
            t = getattr(self, name)
            if tuple(t.shape) != shape:
                raise ParticleArrayError(
                    f"mismatched particle arrays: {name} has shape {tuple(t.shape)}, expected "
                    f"{shape} for x of shape {tuple(x.shape)}"
                )
            if t.dtype != x.dtype or t.device != x.device:
                raise ParticleArrayError(
                    f"{name} is {t.dtype} on {t.device} but x is {x.dtype} on {x.device}"
                )

    @property
    def dim(self) -> int:
        """Spatial dimension ``d``."""
        return self.x.shape[-1]

    @property
    def density(self) -> torch.Tensor:
        """``(B, N)`` reference density ``m / V⁰`` (kg/m³)."""
        return self.mass / self.volume

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The fields in declaration order (for checkpointing)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_tensors(cls, tensors: tuple[torch.Tensor, ...]) -> MPMState:
        """Inverse of :meth:`tensors`."""
        return cls(*tensors)

    def to(
        self, *, dtype: torch.dtype | None = None, device: str | torch.device | None = None
    ) -> MPMState:
        """A copy with every field moved to ``dtype`` and/or ``device``."""
        return MPMState.from_tensors(
            tuple(t.to(dtype=dtype, device=device) for t in self.tensors())
        )

    def replace(self, **changes: torch.Tensor) -> MPMState:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def select(self, scenes: torch.Tensor) -> MPMState:
        """The scenes ``scenes`` (an index or boolean mask over the batch) as a new state."""
        return MPMState.from_tensors(tuple(t[scenes] for t in self.tensors()))

    @classmethod
    def create(
        cls,
        x: torch.Tensor,
        *,
        density: float | torch.Tensor,
        particle_volume: float | torch.Tensor,
        v: torch.Tensor | None = None,
    ) -> MPMState:
        """Undeformed particles (``F = I``, ``C = 0``) at rest or with velocity ``v``.

        Parameters
        ----------
        x:
            ``(B, N, d)`` or ``(N, d)`` positions (m); a missing batch dimension is added.
        density:
            Reference density ρ (kg/m³), a scalar or ``(B, N)``.
        particle_volume:
            Volume per particle V⁰ (m³; sampling spacing^d), a scalar or ``(B, N)``.
        v:
            Velocities like ``x`` (m/s); zero if omitted.
        """
        if x.dim() == 2:
            x = x.unsqueeze(0)
            v = v.unsqueeze(0) if v is not None and v.dim() == 2 else v
        if x.dim() != 3:
            raise ParticleArrayError(f"x must have shape (B, N, d) or (N, d), got {tuple(x.shape)}")
        b, n, d = x.shape
        v = torch.zeros_like(x) if v is None else v
        if tuple(v.shape) != (b, n, d):
            raise ParticleArrayError(
                f"mismatched particle arrays: v has shape {tuple(v.shape)}, x has {tuple(x.shape)}"
            )
        opts = {"dtype": x.dtype, "device": x.device}
        volume = torch.as_tensor(particle_volume, **opts).expand(b, n).clone()
        mass = torch.as_tensor(density, **opts).expand(b, n) * volume
        eye = torch.eye(d, **opts).expand(b, n, d, d).clone()
        return cls(
            x=x,
            v=v,
            C=torch.zeros(b, n, d, d, **opts),
            F=eye,
            mass=mass,
            volume=volume,
            time=torch.zeros(b, **opts),
        )
