"""2D dam break: a water column released in a box (Martin & Moyce 1952), front position over time.

A column of NCLaw's weakly compressible water (:class:`~sciml.solvers.mpm.materials.Fluid`,
``E = 1e5`` Pa, ``ν = 0.3``: bulk wave speed ≈ 7.6 m/s) of width ``a`` and height ``h = n² a``
(``width_range``, ``aspect_range`` = n²) collapses against the left wall onto the floor, both free
slip unless ``floor_friction`` / ``wall_friction`` (Coulomb μ) are set; see
:mod:`sciml.data.recipes.mpm_columns` for the geometry, fields and scalars. The time series
``front`` ``(N, T)`` is the surge-front position ``x_front(t)`` measured from the wall (``= a`` at
``t = 0``), ``wall_depth`` the depth of water at the wall.

Martin & Moyce's nondimensional variables are ``Z = x_front / a`` and ``T = t √(2g/a)``; their
tabulated front (:data:`MARTIN_MOYCE`) is for the column twice as high as wide (``n² = 2``), which
is the recipe's default geometry. The default 1.4 m box lets a 0.2 m column run to ``T ≈ 3.5``
(``Z ≈ 4.5``) before the front reaches the right wall. The shallow-water (Ritter 1892) front speed
``2 √(g h)`` bounds its speed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from sciml.data.recipes.mpm_columns import ColumnConfig, ColumnRecipe
from sciml.registry import RECIPES

__all__ = [
    "DamBreakConfig",
    "DamBreak",
    "MARTIN_MOYCE",
    "MARTIN_MOYCE_HEIGHT",
    "martin_moyce_front",
    "martin_moyce_height",
    "martin_moyce_variables",
]


class DamBreakConfig(ColumnConfig):
    """Parameters of the ``dam_break`` datasets (defaults: a CI-sized file of n² = 2 columns run
    to T ≈ 3.5–4)."""

    material: ClassVar[str] = "water"

    grid_n: int = Field(default=64, ge=8, description="MPM cells per axis on [0, box_size]")
    box_size: float = Field(default=1.4, gt=0.0, description="edge L of the square box [0, L]² (m)")
    n_steps: int = Field(default=720, ge=1, description="steps per trajectory")
    aspect_range: tuple[float, float] = Field(
        default=(2.0, 2.0), description="column aspect n² = h / a, drawn per trajectory"
    )
    E: float = Field(default=1e5, gt=0.0, description="Young's modulus of the water (Pa)")


#: Martin & Moyce (1952, Phil. Trans. R. Soc. A 244, 312), Fig. 3: surge front ``Z = x/a`` against
#: ``T = t √(2g/a)`` for the column with ``n² = 2`` (height 2a), for two column widths
#: ``a = 1.125`` in (0.028575 m) and ``a = 2.25`` in (0.05715 m), as digitised in the validation
#: data of the PySPH project (``pysph/examples/db_exp_data.py``), each an ``(M, 2)`` array of
#: ``(T, Z)`` rows.
MARTIN_MOYCE: dict[float, np.ndarray] = {
    0.028575: np.array(
        [
            [0.849, 1.245],
            [1.212, 1.443],
            [1.602, 1.884],
            [2.283, 2.689],
            [2.950, 3.728],
            [3.598, 4.528],
            [3.905, 4.999],
            [4.592, 5.841],
            [4.961, 6.271],
            [5.316, 6.717],
        ]
    ),
    0.05715: np.array(
        [
            [0.832, 1.217],
            [1.219, 1.474],
            [1.997, 2.292],
            [2.547, 2.995],
            [3.345, 4.134],
            [4.034, 4.944],
            [4.418, 5.881],
            [5.091, 6.980],
            [5.685, 7.945],
            [6.306, 8.966],
        ]
    ),
}


#: Martin & Moyce (1952), their tabulated residual column height for ``n² = 2``: the height of the
#: water at the wall divided by the initial height, ``H = η / (n² a)``, against ``τ = t √(g/a)``
#: (note: not the front's ``T = t √(2g/a)``), an ``(M, 2)`` array of ``(τ, H)`` rows, as
#: transcribed from their Table 6 in the Ocellaris project's ``scripts/plot_dam_break.py``
#: (column ``a = 2.25`` in). H falls in steps of 1/18: the times the surface passed the marks.
MARTIN_MOYCE_HEIGHT: np.ndarray = np.array(
    [
        [0.56, 0.94],
        [0.77, 0.89],
        [0.93, 0.83],
        [1.08, 0.78],
        [1.28, 0.72],
        [1.46, 0.67],
        [1.66, 0.61],
        [1.84, 0.56],
        [2.00, 0.50],
        [2.21, 0.44],
        [2.45, 0.39],
        [2.70, 0.33],
        [3.06, 0.28],
        [3.44, 0.22],
        [4.20, 0.17],
        [5.25, 0.11],
        [7.40, 0.06],
    ]
)


def martin_moyce_front(T: np.ndarray, width: float = 0.05715) -> np.ndarray:
    """Martin & Moyce's front ``Z`` at ``T`` (linear interpolation of :data:`MARTIN_MOYCE` for
    ``width`` in m, one of its keys; ``Z = 1`` at ``T = 0``)."""
    table = MARTIN_MOYCE[width]
    return np.interp(T, np.r_[0.0, table[:, 0]], np.r_[1.0, table[:, 1]])


def martin_moyce_height(tau: np.ndarray) -> np.ndarray:
    """Martin & Moyce's residual column height ``H`` (fraction of the initial height) at
    ``τ = t √(g/a)`` (linear interpolation of :data:`MARTIN_MOYCE_HEIGHT`; ``H = 1`` at ``τ = 0``)."""
    table = MARTIN_MOYCE_HEIGHT
    return np.interp(tau, np.r_[0.0, table[:, 0]], np.r_[1.0, table[:, 1]])


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
