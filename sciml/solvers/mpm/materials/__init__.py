"""Constitutive laws for MPM (one per module) and NCLaw's parameter presets.

All laws return the Kirchhoff stress ``τ`` from ``F`` and apply their return mapping in
``project``; see :mod:`~sciml.solvers.mpm.materials.base` for the interface.

Presets (Ma et al. 2023, ``nclaw/material/preset.py``; SI units, density ρ = 1e3 kg/m³):

============  ================================  ==========================================
name          law                               parameters
============  ================================  ==========================================
jelly         :class:`FixedCorotated`           E = 1e5 Pa, ν = 0.2
plasticine    :class:`VonMises`                 E = 3e5 Pa, ν = 0.25, τ_y = 5e3 Pa
sand          :class:`DruckerPrager`            E = 1e6 Pa, ν = 0.2, φ = 25°
water         :class:`Fluid`                    E = 1e5 Pa, ν = 0.3
============  ================================  ==========================================
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sciml.solvers.mpm.materials.base import ElasticMaterial, MaterialParameterError
from sciml.solvers.mpm.materials.drucker_prager import DruckerPrager
from sciml.solvers.mpm.materials.fixed_corotated import FixedCorotated
from sciml.solvers.mpm.materials.fluid import Fluid
from sciml.solvers.mpm.materials.hencky import HenckyElastic
from sciml.solvers.mpm.materials.von_mises import VonMises

__all__ = [
    "PRESETS",
    "DENSITY",
    "DruckerPrager",
    "ElasticMaterial",
    "FixedCorotated",
    "Fluid",
    "HenckyElastic",
    "MaterialParameterError",
    "VonMises",
    "make_material",
]

#: reference density of every NCLaw preset (kg/m³)
DENSITY = 1e3

PRESETS: dict[str, tuple[type[ElasticMaterial], dict[str, float]]] = {
    "jelly": (FixedCorotated, {"E": 1e5, "nu": 0.2}),
    "plasticine": (VonMises, {"E": 3e5, "nu": 0.25, "yield_stress": 5e3}),
    "sand": (DruckerPrager, {"E": 1e6, "nu": 0.2, "friction_angle": 25.0}),
    "water": (Fluid, {"E": 1e5, "nu": 0.3}),
}


def make_material(name: str, **overrides: Any) -> nn.Module:
    """The NCLaw preset ``name`` with some parameters overridden (e.g. ``E=1e4``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown material preset {name!r}; expected one of {sorted(PRESETS)}")
    cls, params = PRESETS[name]
    return cls(**{**params, **overrides})
