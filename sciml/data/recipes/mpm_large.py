"""Large MLS-MPM particle scenes for reduced-order particle surrogates (GIOROM, Viswanath et al.
2024): the ``mpm2d`` / ``mpm3d`` bodies at ≥ 5 000 particles in 2D and ≥ 10 000 in 3D.

GIOROM learns on a few hundred sampled particles and evaluates on the full cloud, so its data are
trajectories of bodies resolved by thousands of particles. These recipes are the body scenes of
:mod:`sciml.data.recipes.mpm_bodies` (one body per trajectory, NCLaw's jelly, plasticine, sand
and water with ``E`` scaled by 0.5–2×, random size, aspect, rotation, velocity and spin; same
fields and scalars) with large defaults:

* ``mpm2d_large``: a square of 72² = 5 184 particles (a disk keeps ~π/4 of them), 96² grid,
  Δt = 1e-4 s;
* ``mpm3d_large``: a cube of 22³ = 10 648 particles (a ball ~π/6), 48³ grid, Δt = 2e-4 s.

Both simulate in float32 (``precision``; the files store float32 anyway), all trajectories of a
material in one batched call (:class:`~sciml.solvers.mpm.MPMSimulator` runs ``B`` scenes at
once). The time step respects the CFL limit of the stiffest draw (NCLaw sand, ``E = 2e6`` Pa:
P-wave speed ≈ 47 m/s) with the largest velocities. The defaults make a small file (a few
trajectories, a short run); the catalog presets (``sciml/catalog/datasets/mpm*_large.yaml``)
make the full sets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sciml.data.recipes.mpm2d import MPM2d, MPM2dConfig
from sciml.data.recipes.mpm3d import MPM3d, MPM3dConfig
from sciml.registry import RECIPES

__all__ = ["MPM2dLargeConfig", "MPM2dLarge", "MPM3dLargeConfig", "MPM3dLarge"]


class MPM2dLargeConfig(MPM2dConfig):
    """Parameters of the ``mpm2d_large`` datasets (defaults: 2 trajectories, 0.02 s)."""

    n_samples: int = 2
    batch_size: int = 2
    particles_per_side: int = Field(default=72, ge=2, description="lattice points per side")
    grid_n: int = Field(default=96, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=1e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=200, ge=1, description="steps per trajectory")
    save_every: int = Field(default=20, ge=1, description="steps between saved frames")
    precision: Literal["float64", "float32"] = "float32"


class MPM3dLargeConfig(MPM3dConfig):
    """Parameters of the ``mpm3d_large`` datasets (defaults: 2 trajectories, 0.01 s)."""

    n_samples: int = 2
    batch_size: int = 2
    particles_per_side: int = Field(default=22, ge=2, description="lattice points per side")
    grid_n: int = Field(default=48, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=2e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=50, ge=1, description="steps per trajectory")
    save_every: int = Field(default=10, ge=1, description="steps between saved frames")
    precision: Literal["float64", "float32"] = "float32"


@RECIPES.register("mpm2d_large")
class MPM2dLarge(MPM2d):
    """2D bodies of ≥ 5 000 particles (module docstring)."""

    Config = MPM2dLargeConfig
    name = "mpm2d_large"
    summary = "2D MLS-MPM bodies of 5k particles (jelly/plasticine/sand/water), (N,T,P,2)"


@RECIPES.register("mpm3d_large")
class MPM3dLarge(MPM3d):
    """3D bodies of ≥ 10 000 particles (module docstring)."""

    Config = MPM3dLargeConfig
    name = "mpm3d_large"
    summary = "3D MLS-MPM bodies of 10k particles (jelly/plasticine/sand/water), (N,T,P,3)"
