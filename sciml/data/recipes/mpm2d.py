"""2D MLS-MPM particle datasets: one body per trajectory, material, shape and velocity varied.

Each trajectory drops one body of ``P`` particles into the closed box ``[0, 1]²`` (separating
walls, gravity −9.8 m/s²) and records particle positions and velocities every ``save_every``
steps of :class:`sciml.solvers.mpm.MPMSimulator`. The body is a fixed reference lattice (the
``points`` coordinates of the file: a ``k × k`` square or the lattice points of a disk, in
``[−½, ½]²``) mapped by ``x = c + Rot(θ) · diag(L√a, L/√a) · ξ``, so every trajectory has the same
particle count and particle ``i`` is the same material point in all of them (what particle
surrogates such as GIOROM train on). Per trajectory, drawn up front from ``seed``:

* material: one of ``materials`` (NCLaw presets: jelly, plasticine, sand, water) with ``E`` scaled
  by a factor in ``e_scale_range``;
* shape: size ``L``, aspect ``a``, angle ``θ`` and centre ``c``;
* velocity: linear ``v ∈ [−speed_max, speed_max]²`` plus rigid spin ``ω ∈ [−spin_max, spin_max]``.

Fields: ``position`` and ``velocity``, ``(N, T, P, 2)`` (t1 fields on an unstructured layout);
scalars: ``material`` (index into ``config.materials``), ``E``, ``nu``, ``size``, ``aspect``,
``angle``, ``vx``, ``vy``, ``spin``. Units SI (m, s, kg per metre of depth).
:func:`export_vtu` writes one trajectory as per-frame ``.vtu`` point clouds for ParaView.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from sciml.data.format import DatasetFile, DatasetLayout, FieldLayout
from sciml.data.mesh import write_point_cloud_vtu
from sciml.data.recipes.base import Recipe, RecipeConfig, generate_in_blocks
from sciml.registry import RECIPES
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, NonFiniteStateError, shapes
from sciml.solvers.mpm.materials import DENSITY, PRESETS, make_material

__all__ = ["MPM2dConfig", "MPM2d", "export_vtu", "reference_body"]

Material = Literal["jelly", "plasticine", "sand", "water"]


class MPM2dConfig(RecipeConfig):
    """Parameters of the ``mpm2d`` datasets (defaults: a CI-sized file)."""

    n_samples: int = 8
    batch_size: int = 4
    materials: list[Material] = Field(
        default_factory=lambda: ["jelly", "plasticine", "sand", "water"]
    )
    shape: Literal["box", "disk"] = "box"
    particles_per_side: int = Field(default=16, ge=2, description="lattice points per side")
    grid_n: int = Field(default=32, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=2e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=500, ge=1, description="steps per trajectory")
    save_every: int = Field(default=10, ge=1, description="steps between saved frames")
    size_range: tuple[float, float] = (0.15, 0.25)
    aspect_range: tuple[float, float] = (0.6, 1.6)
    speed_max: float = Field(default=2.0, ge=0.0, description="max |v_x|, |v_y| (m/s)")
    spin_max: float = Field(default=5.0, ge=0.0, description="max |ω| (rad/s)")
    e_scale_range: tuple[float, float] = (0.5, 2.0)


def reference_body(shape: str, k: int) -> torch.Tensor:
    """``(P, 2)`` float64 reference lattice in ``[−½, ½]²``: ``k × k`` square or disk points."""
    h = 1.0 / k
    if shape == "box":
        return shapes.box([-0.5, -0.5], [0.5, 0.5], h)
    return shapes.ball([0.0, 0.0], 0.5, h)


def _draw_parameters(config: MPM2dConfig) -> dict[str, np.ndarray]:
    """Per-trajectory parameters, all drawn from ``seed`` so any block can be regenerated."""
    gen = torch.Generator().manual_seed(config.seed)
    n = config.n_samples

    def uniform(lo: float, hi: float) -> np.ndarray:
        return (lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)).numpy()

    material = torch.randint(len(config.materials), (n,), generator=gen).numpy()
    names = [config.materials[i] for i in material]
    e_scale = uniform(*config.e_scale_range)
    return {
        "material": material.astype(np.float64),
        "E": np.array([PRESETS[m][1]["E"] for m in names]) * e_scale,
        "nu": np.array([PRESETS[m][1]["nu"] for m in names]),
        "size": uniform(*config.size_range),
        "aspect": uniform(*config.aspect_range),
        "angle": uniform(0.0, math.pi),
        "cx": uniform(0.4, 0.6),
        "cy": uniform(0.45, 0.6),
        "vx": uniform(-config.speed_max, config.speed_max),
        "vy": uniform(-config.speed_max, config.speed_max),
        "spin": uniform(-config.spin_max, config.spin_max),
    }


def _initial_state(
    ref: torch.Tensor, params: dict[str, torch.Tensor], area: torch.Tensor
) -> MPMState:
    """Map the reference lattice to each trajectory's body; ``params`` entries are ``(b,)``."""
    L, a, th = params["size"], params["aspect"], params["angle"]
    c, s = torch.cos(th), torch.sin(th)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (b, 2, 2)
    stretch = torch.diag_embed(torch.stack([L * a.sqrt(), L / a.sqrt()], -1))
    centre = torch.stack([params["cx"], params["cy"]], -1)  # (b, 2)
    r = ref @ (rot @ stretch).transpose(-1, -2)  # (b, P, 2), relative to the centre
    v = torch.stack([params["vx"], params["vy"]], -1).unsqueeze(1) + params["spin"][
        :, None, None
    ] * torch.stack([-r[..., 1], r[..., 0]], -1)
    volume = (area * L**2 / ref.shape[0])[:, None].expand(-1, ref.shape[0])
    return MPMState.create(centre.unsqueeze(1) + r, density=DENSITY, particle_volume=volume, v=v)


@RECIPES.register("mpm2d")
class MPM2d(Recipe):
    """2D MLS-MPM particle trajectories (module docstring)."""

    Config = MPM2dConfig
    summary = (
        "2D MLS-MPM bodies (jelly/plasticine/sand/water) falling in a box, particles (N,T,P,2)"
    )

    def generate(
        self,
        config: MPM2dConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        ref = reference_body(config.shape, config.particles_per_side)
        area = 1.0 if config.shape == "box" else math.pi / 4
        params = _draw_parameters(config)
        n_frames = config.n_steps // config.save_every + 1
        layout = DatasetLayout(
            dataset_name="mpm2d",
            n_trajectories=config.n_samples,
            time=np.arange(n_frames) * config.dt * config.save_every,
            coords={"points": ref.numpy()},
            fields=[FieldLayout("position", order=1), FieldLayout("velocity", order=1)],
            scalars={k: v for k, v in params.items() if k not in ("cx", "cy")},
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.mpm2d",
        )
        grid = Grid(2, config.grid_n)
        opts = {"dtype": torch.float64, "device": torch.device(device)}
        ref = ref.to(**opts)

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            block = {k: torch.as_tensor(v[start : start + size], **opts) for k, v in params.items()}
            state = _initial_state(ref, block, torch.tensor(area, **opts))
            x = torch.empty(size, n_frames, ref.shape[0], 2, **opts)
            v = torch.empty_like(x)
            for m in block["material"].unique().tolist():
                idx = (block["material"] == m).nonzero().squeeze(-1)
                name = config.materials[int(m)]
                law = make_material(name, E=block["E"][idx]).to(**opts)
                sub = MPMState.from_tensors(tuple(t[idx] for t in state.tensors()))
                try:
                    with torch.no_grad():
                        traj = MPMSimulator(grid, law).rollout(
                            sub, config.n_steps, dt=config.dt, save_every=config.save_every
                        )
                except NonFiniteStateError as err:
                    raise ValueError(
                        f"mpm2d: trajectories {(start + idx).tolist()} ({name}) diverged at "
                        f"step {err.step}; reduce dt (now {config.dt}) or e_scale_range"
                    ) from err
                x[idx], v[idx] = traj.x, traj.v
            return {"position": x, "velocity": v}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )


def export_vtu(
    dataset: str | os.PathLike, out_dir: str | os.PathLike, trajectory: int = 0
) -> list[Path]:
    """Write trajectory ``trajectory`` of an ``mpm2d`` file as ``frame_0000.vtu``, … (ParaView).

    Each frame is a point cloud (``vertex`` cells) at the particle positions with point data
    ``velocity`` (m/s) and ``particle`` (index into the reference lattice).
    """
    f = DatasetFile(dataset)
    if not 0 <= trajectory < f.n_trajectories:
        raise ValueError(
            f"{dataset}: trajectory {trajectory} out of range (file holds {f.n_trajectories})"
        )
    x = f.read("position", trajectory)  # (T, P, 2)
    v = f.read("velocity", trajectory)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = np.arange(x.shape[1])
    return [
        write_point_cloud_vtu(
            out / f"frame_{k:04d}.vtu", x[k], {"velocity": v[k], "particle": index}
        )
        for k in range(x.shape[0])
    ]
