"""3D MLS-MPM particle datasets: one body per trajectory, material, shape and velocity varied.

The ``mpm3d`` recipe: bodies (a cube of ``particles_per_side³`` lattice points or the lattice points
of a ball) falling in ``[0, 1]³`` with gravity along ``−z``; see
:mod:`sciml.data.recipes.mpm_bodies` for the setup, the fields and the scalars. The rotation is a
uniformly random unit quaternion (scalars ``qw, qx, qy, qz``), the spin an angular-velocity vector
(``wx, wy, wz``, rad/s); masses are kg and volumes m³. :func:`export_vtu` writes one trajectory as
per-frame ``.vtu`` point clouds for ParaView.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from sciml.data.recipes.mpm_bodies import BodyConfig, BodyRecipe, export_vtu
from sciml.registry import RECIPES

__all__ = ["MPM3dConfig", "MPM3d", "export_vtu"]


class MPM3dConfig(BodyConfig):
    """Parameters of the ``mpm3d`` datasets (defaults: a CI-sized file)."""

    dim: ClassVar[int] = 3

    n_samples: int = 4
    shape: Literal["box", "ball"] = "box"
    particles_per_side: int = Field(default=8, ge=2, description="lattice points per side")
    grid_n: int = Field(default=24, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=4e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=150, ge=1, description="steps per trajectory")
    spin: list[float] | None = Field(
        default=None,
        description="fixed angular velocity vector (rad/s) of every body, instead of a draw",
    )

    @field_validator("spin")
    @classmethod
    def _spin_is_a_vector(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) != 3:
            raise ValueError(f"needs 3 components (x, y, z), got {len(value)}")
        return value


@RECIPES.register("mpm3d")
class MPM3d(BodyRecipe):
    """3D MLS-MPM particle trajectories (module docstring)."""

    Config = MPM3dConfig
    name = "mpm3d"
    summary = (
        "3D MLS-MPM bodies (jelly/plasticine/sand/water) falling in a box, particles (N,T,P,3)"
    )
