"""2D MLS-MPM column-release scenes: a rectangular column against the left wall, released at t = 0.

The shared part of the ``dam_break`` (water) and ``column_collapse`` (sand) recipes, thin modules
that register them. Each trajectory releases one column of width ``w`` (m) and aspect
``a = h / w`` (both drawn per trajectory from ``seed``) in the closed box ``[0, L]²``
(``L = box_size``) with gravity −9.8 m/s² along ``−y``. The column fills
``[o, o + w] × [o, o + h]`` with ``o = bound·Δx`` the inner edge of the solver's wall layer
(:class:`~sciml.solvers.mpm.Walls`, separating), which is the left wall and the floor. The walls
take Coulomb friction coefficients, ``floor_friction`` for the floor and ``wall_friction`` for the
side walls (default 0: free slip); they act on the wall nodes where material presses on the wall
(Stomakhin et al. 2013, §8). ``dam_break`` puts the walls on the planes ``o``
(``Walls(on_plane=True)``: no material behind them); ``column_collapse`` keeps the Taichi/NCLaw
wall layer and its floor friction in a half-space collider through ``y = o + Δx/2``, the setup its
run-out was calibrated with (:attr:`ColumnRecipe.walls_on_plane`).

The body is a fixed ``n_x × n_y`` cell-centred reference lattice (the ``points`` coordinates of the
file, in ``[0, 1]²``) stretched to ``w × h``, so every trajectory has the same particle count and
particle ``i`` is the same material point in all of them; the particle spacing is ``w / n_x`` by
``h / n_y`` (anisotropic away from the aspect ``n_y / n_x``).

Fields: the particle fields of :func:`sciml.data.recipes.mpm_bodies.particle_fields`. Scalars:
``width`` (m), ``height`` (m), ``aspect`` and the material's parameters (``E`` in Pa, ``nu``, …),
and three diagnostics ``(N, T)``, time series of the file (``DatasetFile.series``) computed by
:func:`column_extent` from the positions as stored (float32), block by block with the fields.
Each uses the ``k``-th most extreme particle, ``k = ⌈front_fraction · P⌉`` (default 0.5 % of the
``P`` particles), not the single most extreme one, so that a few stray particles (spray, or a
sheet of particles at a wall) do not define it:

* ``front`` (m): how far the material reaches from the left wall, ``x_(k) − o + s_x/2``
  (``x_(k)`` the ``k``-th largest ``x``, ``s_x`` the initial spacing across the width, so that
  ``front = w`` at ``t = 0``);
* ``top`` (m): the height of the ``k``-th highest particle above the floor, ``y_(k) − o + s_y/2``;
* ``wall_depth`` (m): the depth of material at the left wall: the same height over the particles
  within ``w/10`` of the wall (a band independent of the resolution; ``k`` counted over those
  particles; 0 when none is there).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.data.recipes.mpm_bodies import particle_fields, rollout_frames
from sciml.solvers.mpm import Grid, HalfSpaceCollider, MPMSimulator, MPMState, Walls
from sciml.solvers.mpm.materials import DENSITY, PRESETS, make_material

__all__ = ["ColumnConfig", "ColumnRecipe", "column_extent", "origin"]


class ColumnConfig(RecipeConfig):
    """Parameters shared by the column scenes; subclasses set :attr:`material` and the defaults."""

    #: NCLaw material preset of the column
    material: ClassVar[str] = "water"

    n_samples: int = 4
    batch_size: int = 2
    lattice: tuple[int, int] = Field(
        default=(12, 24), description="particles across the width and up the height"
    )
    grid_n: int = Field(default=48, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=5e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=500, ge=1, description="steps per trajectory")
    save_every: int = Field(default=10, ge=1, description="steps between saved frames")
    width_range: tuple[float, float] = Field(
        default=(0.15, 0.2), description="column width w (m), drawn per trajectory"
    )
    aspect_range: tuple[float, float] = Field(
        default=(1.0, 2.0), description="column aspect a = h / w, drawn per trajectory"
    )
    E: float = Field(default=1e5, gt=0.0, description="Young's modulus of the material (Pa)")
    box_size: float = Field(default=1.0, gt=0.0, description="edge L of the square box [0, L]² (m)")
    floor_friction: float = Field(default=0.0, ge=0.0, description="Coulomb μ of the floor")
    wall_friction: float = Field(
        default=0.0, ge=0.0, description="Coulomb μ of the left and right walls"
    )
    front_fraction: float = Field(
        default=0.005,
        gt=0.0,
        lt=0.5,
        description="front, top and wall depth use the k-th most extreme particle, "
        "k = ceil(front_fraction · particles)",
    )
    save_state: bool = Field(
        default=False, description="also write the APIC matrix C and deformation gradient F"
    )

    @model_validator(mode="after")
    def _fits_in_the_box(self) -> ColumnConfig:
        if min(self.lattice) < 2:
            raise ValueError(f"lattice needs at least 2 particles per axis, got {self.lattice}")
        for name in ("width_range", "aspect_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {(lo, hi)}")
        top = (
            origin(self.grid_n, box_size=self.box_size) + self.width_range[1] * self.aspect_range[1]
        )
        if top > self.box_size * (1 - 1 / self.grid_n):
            raise ValueError(
                f"the tallest column (top at {top:.3g} m) does not fit in the box of size "
                f"box_size={self.box_size:g} m; reduce width_range or aspect_range"
            )
        return self

    def material_parameters(self) -> dict[str, float]:
        """Overrides of the material preset (``make_material(material, **these)``)."""
        return {"E": self.E}


def origin(grid_n: int, bound: int = Grid.bound, *, box_size: float = 1.0) -> float:
    """Position (m) of the left wall and of the floor: ``bound · Δx``, ``Δx = box_size/grid_n``."""
    return bound * box_size / grid_n


def _kth_largest(values: np.ndarray, fraction: float) -> np.ndarray:
    """``(…)`` the ``⌈fraction · P⌉``-th largest of ``values`` ``(…, P)``."""
    k = max(1, math.ceil(fraction * values.shape[-1]))
    return -np.partition(-values, k - 1, axis=-1)[..., k - 1]


def column_extent(
    position: np.ndarray, width: np.ndarray, height: np.ndarray, config: ColumnConfig
) -> dict[str, np.ndarray]:
    """``{"front", "top"}`` ``(N, T)`` (m) from positions ``(N, T, P, 2)`` (module docstring).

    ``width`` and ``height`` ``(N,)`` (m) are those of the same ``N`` trajectories.
    """
    n_x, n_y = config.lattice
    o = origin(config.grid_n, box_size=config.box_size)
    s_x = (np.asarray(width) / n_x)[:, None]
    half_y = (np.asarray(height) / n_y / 2)[:, None]
    x, y = position[..., 0], position[..., 1]
    near = x - o < 0.1 * np.asarray(width)[:, None, None]  # (N, T, P) within w/10 of the wall
    k_near = np.maximum(1, np.ceil(config.front_fraction * near.sum(-1)))  # (N, T)
    # k-th highest over the particles at the wall: rank of each height among them
    y_near = np.where(near, y, -np.inf)
    ranked = -np.sort(-y_near, axis=-1)
    depth = np.take_along_axis(ranked, (k_near - 1).astype(np.int64)[..., None], -1)[..., 0]
    return {
        "front": _kth_largest(x, config.front_fraction) - o + s_x / 2,
        "top": _kth_largest(y, config.front_fraction) - o + half_y,
        "wall_depth": np.where(near.any(-1), depth - o + half_y, 0.0),
    }


class ColumnRecipe(Recipe):
    """A column released in a box (module docstring); subclasses set ``Config`` and ``name``."""

    Config: ClassVar[type[ColumnConfig]] = ColumnConfig
    #: ``dataset_name`` of the files
    name: ClassVar[str]
    #: walls on the planes ``o`` (``Walls(on_plane=True)``, friction in the walls); ``False``: the
    #: Taichi/NCLaw wall layer with the floor friction in a collider (the calibration of
    #: ``column_collapse``, whose run-out grows by ~5–15 % with the walls on the planes)
    walls_on_plane: ClassVar[bool] = True

    def generate(
        self,
        config: ColumnConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        n_x, n_y = config.lattice
        # cell-centred reference lattice in [0, 1]², x varying slowest as in shapes.box
        ref = np.stack(
            np.meshgrid((np.arange(n_x) + 0.5) / n_x, (np.arange(n_y) + 0.5) / n_y, indexing="ij"),
            -1,
        ).reshape(-1, 2)
        params = self._draw(config)
        n_frames = config.n_steps // config.save_every + 1
        layout = DatasetLayout(
            dataset_name=self.name,
            n_trajectories=config.n_samples,
            time=np.arange(n_frames) * config.dt * config.save_every,
            coords={"points": ref},
            fields=particle_fields(config.save_state),
            scalars=params,
            series=("front", "top", "wall_depth"),
            config=config.model_dump(),
            seed=config.seed,
            generator=type(self).__module__,
        )
        grid = Grid(2, config.grid_n, size=config.box_size)
        o = origin(config.grid_n, grid.bound, box_size=config.box_size)
        law = make_material(config.material, **config.material_parameters())
        if self.walls_on_plane:
            friction = [(config.wall_friction,) * 2, (config.floor_friction, 0.0)]
            sim = MPMSimulator(grid, law, walls=Walls(friction=friction, on_plane=True))
        else:
            # Taichi/NCLaw wall layer; the floor's friction acts through a half-space collider
            # on the node row y = o, the first one that layer leaves alone
            floor = HalfSpaceCollider(
                [0.0, o + grid.dx / 2], [0.0, 1.0], friction=config.floor_friction
            )
            sim = MPMSimulator(
                grid,
                law,
                walls=Walls(friction=[(config.wall_friction,) * 2, (0.0, 0.0)]),
                colliders=[floor] if config.floor_friction > 0 else [],
            )
        opts: dict[str, Any] = {"dtype": torch.float64, "device": torch.device(device)}
        sim = sim.to(**opts)
        ref_t = torch.as_tensor(ref, **opts)

        def make_block(start: int, size: int) -> dict[str, torch.Tensor | np.ndarray]:
            block = slice(start, start + size)
            w = torch.as_tensor(params["width"][block], **opts)
            h = torch.as_tensor(params["height"][block], **opts)
            scale = torch.stack([w, h], -1).unsqueeze(1)  # (b, 1, 2)
            x = o + ref_t * scale
            volume = (w * h / ref_t.shape[0])[:, None].expand(-1, ref_t.shape[0])
            state = MPMState.create(x, density=DENSITY, particle_volume=volume)
            frames = rollout_frames(
                sim,
                state,
                n_frames,
                dt=config.dt,
                save_every=config.save_every,
                save_state=config.save_state,
            )
            stored = frames["position"].cpu().numpy().astype(layout.dtype)  # (b, T, P, 2)
            extent = column_extent(stored, params["width"][block], params["height"][block], config)
            return {"mass": state.mass, "volume": state.volume, **frames, **extent}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

    @staticmethod
    def _draw(config: ColumnConfig) -> dict[str, np.ndarray]:
        """Per-trajectory ``(N,)`` geometry and material scalars, drawn from ``seed``."""
        gen = block_generator(config.seed, 0)
        u = torch.rand(2, config.n_samples, generator=gen, dtype=torch.float64).numpy()
        (w_lo, w_hi), (a_lo, a_hi) = config.width_range, config.aspect_range
        width = w_lo + (w_hi - w_lo) * u[0]
        aspect = a_lo + (a_hi - a_lo) * u[1]
        n = config.n_samples
        material = PRESETS[config.material][1] | config.material_parameters()
        geometry = {"width": width, "height": width * aspect, "aspect": aspect}
        return geometry | {k: np.full(n, float(v)) for k, v in material.items()}
