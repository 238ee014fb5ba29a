"""2D dam break: a water column released in a box (Martin & Moyce 1952), front position over time.

A column of NCLaw's weakly compressible water (:class:`~sciml.solvers.mpm.materials.Fluid`,
``E = 1e5`` Pa, ``ν = 0.3``: bulk wave speed ≈ 7.6 m/s) of width ``a`` and height ``h = n² a``
(``width_range``, ``aspect_range``) collapses against a free-slip left wall onto a free-slip floor;
see :mod:`sciml.data.recipes.mpm_columns` for the geometry, fields and scalars. The time series
``front`` ``(N, T)`` is the surge-front position ``x_front(t)`` measured from the wall (``= a`` at
``t = 0``). Martin & Moyce's nondimensional variables are ``Z = x_front / a`` and
``T = t √(2g/a)``; the shallow-water (Ritter 1892) front speed ``2 √(g h)`` bounds its speed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from sciml.data.recipes.mpm_columns import ColumnConfig, ColumnRecipe
from sciml.registry import RECIPES

__all__ = ["DamBreakConfig", "DamBreak", "martin_moyce_variables"]


class DamBreakConfig(ColumnConfig):
    """Parameters of the ``dam_break`` datasets (defaults: a CI-sized file, 0.25 s)."""

    material: ClassVar[str] = "water"

    E: float = Field(default=1e5, gt=0.0, description="Young's modulus of the water (Pa)")
    floor_friction: float = Field(default=0.0, ge=0.0, description="Coulomb μ of the floor")


#: Martin & Moyce (1952), square column (n² = 1): surge front ``Z = x/a`` at ``T = t √(2g/a)``,
#: as tabulated in SPH validation papers (transcribed from secondary sources, not the report)
MARTIN_MOYCE_T = np.array([0.0, 0.41, 0.84, 1.19, 1.43, 1.63, 1.83, 1.98, 2.20, 2.32, 2.51])
MARTIN_MOYCE_Z = np.array([1.0, 1.11, 1.22, 1.44, 1.67, 1.89, 2.11, 2.33, 2.56, 2.78, 3.00])


def martin_moyce_variables(
    time: np.ndarray, front: np.ndarray, width: np.ndarray, g: float = 9.8
) -> tuple[np.ndarray, np.ndarray]:
    """Nondimensional time ``T = t √(2g/a)`` and front ``Z = x_front / a``, each ``(N, T)``.

    ``time`` ``(T,)`` in s, ``front`` ``(N, T)`` and ``width`` ``a`` ``(N,)`` in m, ``g`` in m/s².
    """
    a = np.asarray(width, dtype=np.float64)[:, None]
    return np.asarray(time)[None, :] * np.sqrt(2 * g / a), np.asarray(front) / a


@RECIPES.register("dam_break")
class DamBreak(ColumnRecipe):
    """2D dam break (module docstring)."""

    Config = DamBreakConfig
    name = "dam_break"
    summary = "2D dam break: water column collapsing in a box, particles (N,T,P,2) + front (N,T)"
