"""MLS-MPM particle datasets in 2D and 3D: one body per trajectory; material, shape, motion varied.

The dimension-generic part of the ``mpm2d`` and ``mpm3d`` recipes (thin modules that register
them), and the particle plumbing that the MPM scene recipes (``dam_break``, ``column_collapse``)
share: the stored fields, the frame-by-frame rollout and the VTU export.

Each trajectory drops one body of ``P`` particles into the closed box ``[0, 1]^d`` (separating
walls, gravity −9.8 m/s² along the last axis) and records the particles every ``save_every`` steps
of :class:`sciml.solvers.mpm.MPMSimulator`. The body is a fixed reference lattice (the ``points``
coordinates of the file: a ``k^d`` cube or the lattice points of a disk/ball, in ``[−½, ½]^d``)
mapped by ``x = c + R · diag(L√a, L/√a[, L]) · ξ``, so every trajectory has the same particle count
and particle ``i`` is the same material point in all of them (what particle surrogates such as
GIOROM train on). Per trajectory, drawn up front from ``seed``:

* material: one of ``materials`` (NCLaw presets: jelly, plasticine, sand, water) with ``E`` scaled
  by a factor in ``e_scale_range``;
* shape: size ``L``, aspect ``a`` (volume-preserving), rotation ``R`` (2D: angle θ ∈ [0, π); 3D: a
  uniformly random rotation, stored as the unit quaternion ``qw, qx, qy, qz``) and centre ``c``
  (horizontal components in [0.4, 0.6], vertical in [0.45, 0.6]);
* velocity: linear ``v ∈ [−speed_max, speed_max]^d`` plus rigid spin ``ω × r`` with every
  component of ``ω`` in ``[−spin_max, spin_max]`` (2D: one component, 3D: three).

``velocity``, ``spin`` and ``center`` fix the linear velocity, spin and centre of every trajectory
instead (the draws are still made, so the other parameters do not depend on them).

Fields (see :func:`particle_fields`): ``position`` and ``velocity``, ``(N, T, P, d)`` t1 fields on
an unstructured layout; ``mass`` (kg; kg per metre of depth in 2D) and ``volume`` (reference
volume, m³; m² in 2D), ``(N, P)`` time-invariant t0 fields; with ``save_state`` also ``affine``
(APIC ``C``, 1/s) and ``deformation`` (``F``), t2 fields ``(N, T, P, d, d)``, so that a simulator
can be reset to any saved frame exactly (teacher forcing). Scalars, the values used: ``material``
(index into ``config.materials``), ``E``, ``nu``, ``size``, ``aspect``, the rotation (``angle`` or
``qw…qz``), the centre ``cx, cy[, cz]``, the velocity ``vx, vy[, vz]`` and the spin (``spin`` in 2D,
``wx, wy, wz`` in 3D). Units SI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from sciml.data.format import DatasetFile, DatasetLayout, FieldLayout
from sciml.data.mesh import write_point_cloud_vtu
from sciml.data.recipes.base import Recipe, RecipeConfig, generate_in_blocks
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, NonFiniteStateError, shapes
from sciml.solvers.mpm.materials import DENSITY, PRESETS, make_material

__all__ = [
    "BodyConfig",
    "BodyRecipe",
    "draw_parameters",
    "export_vtu",
    "initial_state",
    "particle_fields",
    "reference_body",
    "rollout_frames",
]

Material = Literal["jelly", "plasticine", "sand", "water"]
AXES = ("x", "y", "z")

#: measure of the reference body in [−½, ½]^d: area (2D) or volume (3D) of box / disk / ball
_REFERENCE_MEASURE = {"box": 1.0, "disk": math.pi / 4, "ball": math.pi / 6}


class BodyConfig(RecipeConfig):
    """Parameters shared by ``mpm2d`` and ``mpm3d`` (defaults: a CI-sized file).

    Subclasses set :attr:`dim` and narrow ``shape`` (2D: box/disk, 3D: box/ball) and ``spin``
    (2D: a float, 3D: a 3-vector).
    """

    #: spatial dimension of the recipe
    dim: ClassVar[int] = 2

    n_samples: int = 8
    batch_size: int = 4
    materials: list[Material] = Field(
        default_factory=lambda: ["jelly", "plasticine", "sand", "water"]
    )
    shape: str = "box"
    particles_per_side: int = Field(default=16, ge=2, description="lattice points per side")
    grid_n: int = Field(default=32, ge=8, description="MPM cells per axis on [0, 1]")
    dt: float = Field(default=2e-4, gt=0.0, description="time step (s)")
    n_steps: int = Field(default=500, ge=1, description="steps per trajectory")
    save_every: int = Field(default=10, ge=1, description="steps between saved frames")
    size_range: tuple[float, float] = (0.15, 0.25)
    aspect_range: tuple[float, float] = (0.6, 1.6)
    speed_max: float = Field(default=2.0, ge=0.0, description="max |v_i| per component (m/s)")
    spin_max: float = Field(default=5.0, ge=0.0, description="max |ω_i| per component (rad/s)")
    e_scale_range: tuple[float, float] = (0.5, 2.0)
    velocity: list[float] | None = Field(
        default=None, description="fixed linear velocity (m/s) of every body, instead of a draw"
    )
    spin: float | list[float] | None = Field(
        default=None, description="fixed angular velocity (rad/s) of every body, instead of a draw"
    )
    center: list[float] | None = Field(
        default=None, description="fixed centre (m) of every body, instead of a draw"
    )
    save_state: bool = Field(
        default=False, description="also write the APIC matrix C and deformation gradient F"
    )
    precision: Literal["float64", "float32"] = Field(
        default="float64",
        description="floating-point type of the simulation (files store float32 either way)",
    )

    @field_validator("velocity", "center")
    @classmethod
    def _one_per_axis(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) != cls.dim:
            names = ", ".join(AXES[: cls.dim])
            raise ValueError(f"needs {cls.dim} components ({names}), got {len(value)}")
        return value


def reference_body(shape: str, k: int, dim: int) -> torch.Tensor:
    """``(P, d)`` float64 reference lattice in ``[−½, ½]^d``: ``k^d`` cube or disk/ball points."""
    h = 1.0 / k
    if shape == "box":
        return shapes.box([-0.5] * dim, [0.5] * dim, h)
    return shapes.ball([0.0] * dim, 0.5, h)


def _spin_names(dim: int) -> list[str]:
    return ["spin"] if dim == 2 else ["wx", "wy", "wz"]


def draw_parameters(config: BodyConfig) -> dict[str, np.ndarray]:
    """Per-trajectory ``(N,)`` parameters, all drawn from ``seed`` (module docstring)."""
    d = config.dim
    gen = torch.Generator().manual_seed(config.seed)
    n = config.n_samples

    def uniform(lo: float, hi: float) -> np.ndarray:
        return (lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)).numpy()

    material = torch.randint(len(config.materials), (n,), generator=gen).numpy()
    names = [config.materials[i] for i in material]
    e_scale = uniform(*config.e_scale_range)
    params = {
        "material": material.astype(np.float64),
        "E": np.array([PRESETS[m][1]["E"] for m in names]) * e_scale,
        "nu": np.array([PRESETS[m][1]["nu"] for m in names]),
        "size": uniform(*config.size_range),
        "aspect": uniform(*config.aspect_range),
    }
    if d == 2:
        params["angle"] = uniform(0.0, math.pi)
    else:
        # A normalised Gaussian 4-vector is a uniformly distributed unit quaternion (Haar on SO(3));
        # the sign is fixed to qw ≥ 0 so that each rotation has one record.
        q = torch.randn(n, 4, generator=gen, dtype=torch.float64)
        q = torch.where(q[:, :1] < 0, -q, q) / q.norm(dim=-1, keepdim=True)
        params |= {f"q{c}": q[:, i].numpy() for i, c in enumerate("wxyz")}
    for i, axis in enumerate(AXES[:d]):
        params[f"c{axis}"] = uniform(0.45, 0.6) if i == d - 1 else uniform(0.4, 0.6)
    for axis in AXES[:d]:
        params[f"v{axis}"] = uniform(-config.speed_max, config.speed_max)
    for name in _spin_names(d):
        params[name] = uniform(-config.spin_max, config.spin_max)
    fixed = {
        tuple(f"c{axis}" for axis in AXES[:d]): config.center,
        tuple(f"v{axis}" for axis in AXES[:d]): config.velocity,
        tuple(_spin_names(d)): config.spin,
    }
    for keys, value in fixed.items():
        if value is not None:
            for key, component in zip(keys, np.atleast_1d(value), strict=True):
                params[key] = np.full(n, float(component))
    return params


def _rotation(params: dict[str, torch.Tensor], dim: int) -> torch.Tensor:
    """``(b, d, d)`` rotation matrices of the drawn angle (2D) or unit quaternion (3D)."""
    if dim == 2:
        c, s = torch.cos(params["angle"]), torch.sin(params["angle"])
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    w, x, y, z = (params[f"q{c}"] for c in "wxyz")
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def initial_state(
    ref: torch.Tensor, params: dict[str, torch.Tensor], measure: float, dim: int
) -> MPMState:
    """Map the reference lattice ``(P, d)`` to each trajectory's body; ``params`` are ``(b,)``.

    ``measure`` is the area/volume of the reference body, so each particle gets the volume
    ``measure · L^d / P`` (the map is volume-preserving up to the scale ``L``).
    """
    L, a = params["size"], params["aspect"]
    axes = [L * a.sqrt(), L / a.sqrt()] + [L] * (dim - 2)
    stretch = torch.diag_embed(torch.stack(axes, -1))
    centre = torch.stack([params[f"c{axis}"] for axis in AXES[:dim]], -1)  # (b, d)
    r = ref @ (_rotation(params, dim) @ stretch).transpose(-1, -2)  # (b, P, d), about the centre
    v = torch.stack([params[f"v{axis}"] for axis in AXES[:dim]], -1).unsqueeze(1)
    if dim == 2:
        v = v + params["spin"][:, None, None] * torch.stack([-r[..., 1], r[..., 0]], -1)
    else:
        omega = torch.stack([params[n] for n in _spin_names(3)], -1).unsqueeze(1)
        v = v + torch.linalg.cross(omega.expand_as(r), r)
    volume = (measure * L**dim / ref.shape[0])[:, None].expand(-1, ref.shape[0])
    return MPMState.create(centre.unsqueeze(1) + r, density=DENSITY, particle_volume=volume, v=v)


def particle_fields(save_state: bool) -> list[FieldLayout]:
    """The stored fields of an MPM particle file (module docstring)."""
    fields = [
        FieldLayout("position", order=1),
        FieldLayout("velocity", order=1),
        FieldLayout("mass", order=0, time_varying=False),
        FieldLayout("volume", order=0, time_varying=False),
    ]
    if save_state:
        fields += [FieldLayout("affine", order=2), FieldLayout("deformation", order=2)]
    return fields


def rollout_frames(
    sim: MPMSimulator,
    state: MPMState,
    n_frames: int,
    *,
    dt: float,
    save_every: int,
    save_state: bool,
) -> dict[str, torch.Tensor]:
    """``{field: (b, T, P, ...)}`` the initial state and ``n_frames − 1`` states ``save_every`` apart.

    The rollout runs one saved interval at a time because :class:`~sciml.solvers.mpm.Trajectory`
    keeps ``C`` and ``F`` only for its last state; the steps (hence the frames) are those of one
    long rollout. A :class:`NonFiniteStateError` is re-raised with the step counted from 0.
    """
    states = [state]
    for k in range(n_frames - 1):
        try:
            with torch.no_grad():
                state = sim.rollout(state, save_every, dt=dt, save_every=save_every).state
        except NonFiniteStateError as err:
            raise NonFiniteStateError(k * save_every + err.step) from err
        states.append(state)
    names = {"position": "x", "velocity": "v"}
    if save_state:
        names |= {"affine": "C", "deformation": "F"}
    return {key: torch.stack([getattr(s, attr) for s in states], 1) for key, attr in names.items()}


class BodyRecipe(Recipe):
    """One body per trajectory in ``[0, 1]^d`` (module docstring); subclasses set ``Config``."""

    Config: ClassVar[type[BodyConfig]] = BodyConfig
    #: ``dataset_name`` of the files
    name: ClassVar[str]

    def generate(
        self,
        config: BodyConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        d, name, shape = config.dim, self.name, config.shape
        ref = reference_body(shape, config.particles_per_side, d)
        params = draw_parameters(config)
        n_frames = config.n_steps // config.save_every + 1
        layout = DatasetLayout(
            dataset_name=name,
            n_trajectories=config.n_samples,
            time=np.arange(n_frames) * config.dt * config.save_every,
            coords={"points": ref.numpy()},
            fields=particle_fields(config.save_state),
            scalars=params,
            config=config.model_dump(),
            seed=config.seed,
            generator=type(self).__module__,
        )
        grid = Grid(d, config.grid_n)
        opts = {"dtype": getattr(torch, config.precision), "device": torch.device(device)}
        ref = ref.to(**opts)

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            block = {k: torch.as_tensor(v[start : start + size], **opts) for k, v in params.items()}
            state = initial_state(ref, block, _REFERENCE_MEASURE[shape], d)
            out = {"mass": state.mass, "volume": state.volume}
            for m in block["material"].unique().tolist():
                idx = (block["material"] == m).nonzero().squeeze(-1)
                material = config.materials[int(m)]
                law = make_material(material, E=block["E"][idx]).to(**opts)
                sub = MPMState.from_tensors(tuple(t[idx] for t in state.tensors()))
                try:
                    frames = rollout_frames(
                        MPMSimulator(grid, law),
                        sub,
                        n_frames,
                        dt=config.dt,
                        save_every=config.save_every,
                        save_state=config.save_state,
                    )
                except NonFiniteStateError as err:
                    raise ValueError(
                        f"{name}: trajectories {(start + idx).tolist()} ({material}) diverged at "
                        f"step {err.step}; reduce dt (now {config.dt}) or e_scale_range"
                    ) from err
                for key, value in frames.items():
                    out.setdefault(key, value.new_empty(size, *value.shape[1:]))[idx] = value
            return out

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )


def export_vtu(
    dataset: str | os.PathLike,
    out_dir: str | os.PathLike,
    trajectory: int = 0,
    point_fields: Sequence[str] = ("velocity",),
) -> list[Path]:
    """Write trajectory ``trajectory`` of a particle file as ``frame_0000.vtu``, … (ParaView).

    Each frame is a point cloud (``vertex`` cells) at the particle positions with point data
    ``point_fields`` (time-varying fields of the file, e.g. ``velocity`` in m/s) and ``particle``
    (index into the reference lattice). Works for 2D and 3D files.
    """
    f = DatasetFile(dataset)
    if not 0 <= trajectory < f.n_trajectories:
        raise ValueError(
            f"{dataset}: trajectory {trajectory} out of range (file holds {f.n_trajectories})"
        )
    x = f.read("position", trajectory)  # (T, P, d)
    data = {name: f.read(name, trajectory) for name in point_fields}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = np.arange(x.shape[1])
    return [
        write_point_cloud_vtu(
            out / f"frame_{k:04d}.vtu",
            x[k],
            {**{name: v[k] for name, v in data.items()}, "particle": index},
        )
        for k in range(x.shape[0])
    ]
