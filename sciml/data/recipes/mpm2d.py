"""2D MLS-MPM particle datasets: one body per trajectory, material, shape and velocity varied.

The ``mpm2d`` recipe: bodies (a square or a disk of ``particles_per_side²`` lattice points) falling
in ``[0, 1]²``; see :mod:`sciml.data.recipes.mpm_bodies` for the setup, the fields and the scalars.
In 2D, masses are kg per metre of depth, volumes m², the rotation is the scalar ``angle`` and the
spin the scalar ``spin`` (rad/s, counter-clockwise). :func:`export_vtu` writes one trajectory as
per-frame ``.vtu`` point clouds for ParaView.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from sciml.data.recipes.mpm_bodies import BodyConfig, BodyRecipe, export_vtu
from sciml.registry import RECIPES

__all__ = ["MPM2dConfig", "MPM2d", "export_vtu"]


class MPM2dConfig(BodyConfig):
    """Parameters of the ``mpm2d`` datasets (defaults: a CI-sized file)."""

    dim: ClassVar[int] = 2

    shape: Literal["box", "disk"] = "box"
    spin: float | None = Field(
        default=None, description="fixed angular velocity (rad/s) of every body, instead of a draw"
    )


@RECIPES.register("mpm2d")
class MPM2d(BodyRecipe):
    """2D MLS-MPM particle trajectories (module docstring)."""

    Config = MPM2dConfig
    name = "mpm2d"
    summary = (
        "2D MLS-MPM bodies (jelly/plasticine/sand/water) falling in a box, particles (N,T,P,2)"
    )
