"""Learned particle simulator: a model that steps particle states, trained on MPM trajectories.

Two dataset kinds:

* ``particle_trajectory`` (NCLaw inside the differentiable MPM simulator,
  :class:`~sciml.models.learned_mpm.LearnedMPM`): whole trajectories with their MPM state; the
  model is built with the simulation settings recorded in the file (grid, time step, walls), so
  the law is trained in the simulator that made the data.
* ``particle_window`` (GNS, :class:`~sciml.models.gns.GNS`; GIOROM): windows of ``H + 1``
  positions → the normalized next acceleration; the velocity/acceleration statistics are fitted
  on the training split, the box the wall features refer to comes from the file.

Evaluation is NCLaw's: free rollouts from the start of every test trajectory, position MSE per
frame (m²), its mean, the final frame's, how many frames stayed finite, the wall time per
trajectory; ``position_mse.csv`` and figures. ``sciml.load`` returns the model itself (its
``rollout``/``simulator`` take particle states in SI units).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.atomic import atomic_write_text
from sciml.data.format import DataFileError
from sciml.data.grid import InMemoryDataset
from sciml.data.particle_states import STATE_KEYS
from sciml.evaluation.plots import plot_particles, plot_rollout_error
from sciml.models.build import build_simulator
from sciml.models.learned_mpm import simulation_settings
from sciml.registry import METRICS, TASKS
from sciml.solvers.mpm import Grid
from sciml.spec import SpecError
from sciml.tasks.base import Task


def wall_bounds(settings: Mapping[str, Any]) -> tuple[float, float]:
    """``(lo, hi)`` of the walls the particles of an MPM scene actually meet (m).

    The simulator's wall condition acts on the grid nodes within ``bound`` cells of each face of
    ``[0, 1]^d``, so material stops near the outermost of them, ``(bound − 1)·Δx`` from each face
    (0.0625 m for ``grid_n = 32``), not at the faces: GNS wall features measured from the faces
    would be clipped (beyond the radius) everywhere and never see a contact.
    """
    grid = Grid(int(settings["dim"]), int(settings["grid_n"]))
    inset = (grid.bound - 1) * grid.dx
    return inset, grid.size - inset


@TASKS.register("learned_simulator")
class LearnedSimulatorTask(Task):
    """Particle states → particle states (see the module docstring)."""

    name = "learned_simulator"
    dataset_kinds = ("particle_trajectory", "particle_window")

    @property
    def windows(self) -> bool:
        return self.spec.data.kind == "particle_window"

    # ------------------------------------------------------------------------------------ data
    def dataset_options(self) -> dict[str, Any]:
        if not self.windows:
            return {}
        # windows of the model's history; statistics fitted with its training noise
        kw = self.spec.model_kwargs
        return {k: kw[k] for k in ("history", "noise_std") if k in kw}

    def open_dataset(self, cls: Any, file: Path, options: dict[str, Any]) -> Dataset:
        data = self.spec.data
        expected = (list(STATE_KEYS), ["position"]) if not self.windows else (["position"],) * 2
        if (list(data.inputs), list(data.outputs)) != (list(expected[0]), list(expected[1])):
            raise SpecError(
                f"data.inputs/outputs: dataset kind {data.kind!r} feeds a learned simulator "
                f"particle states; use inputs: {list(expected[0])} and outputs: "
                f"{list(expected[1])}"
            )
        return cls(file, **options)

    # ----------------------------------------------------------------------------------- model
    def describe(self, train_set: Any) -> dict[str, Any]:
        if self.spec.constraint is not None:
            raise SpecError(
                f"constraint: task {self.name!r} steps particle states; the constraints act on "
                "field outputs (tasks field_operator, time_conditioned, probabilistic_field)"
            )
        settings = simulation_settings(train_set.file.config, train_set.dim)
        if self.windows:
            bounds = list(wall_bounds(settings))
            kwargs = {"dim": train_set.dim, "bounds": bounds, **self.spec.model_kwargs}
            return {"kwargs": kwargs, "n_dims": train_set.dim}
        return {
            "kwargs": {**self.spec.model_kwargs, "simulation": settings},
            "n_dims": train_set.dim,
        }

    @classmethod
    def build(cls, info: Mapping[str, Any]) -> nn.Module:
        return build_simulator(info)

    def fit(self, model: nn.Module, train_set: Any, val_set: Any) -> tuple[Dataset, Dataset]:
        if self.windows:
            # the normalization of velocities and accelerations: the training split's
            model.set_stats(train_set.stats)
            val_set.set_stats(train_set.stats)
            return train_set, val_set
        return InMemoryDataset(train_set.tensors()), val_set

    # ------------------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        loaded: nn.Module,
        *,
        data: str | os.PathLike | None,
        split: str,
        resolutions: list[int],
        out: Path,
        device: str,
    ) -> tuple[dict[str, dict[str, Any]], list[Path]]:
        spec = self.spec
        if resolutions:
            raise SpecError("--resolution: a particle simulator has no grid resolution to change")
        test_set = self.dataset(split, path=data)
        if self.windows:
            positions = test_set.positions.to(device=device, dtype=self.dtype)
            history = loaded.history * test_set.stride
            frames = positions[:, :: test_set.stride]
            start = frames[:, : loaded.history + 1]
            target = frames[:, loaded.history + 1 :]
            with torch.no_grad():
                started = time.perf_counter()
                pred = loaded.rollout(start, target.shape[1])
                seconds = time.perf_counter() - started
            times = test_set.time[history + test_set.stride :: test_set.stride]
        else:
            self._check_settings(loaded, test_set)
            batch = {k: v.to(device) for k, v in test_set.tensors().items()}
            with torch.no_grad():
                started = time.perf_counter()
                pred = loaded(*[batch[k] for k in STATE_KEYS])
                seconds = time.perf_counter() - started
            target = batch["y"]
            times = test_set.time[1:]
        mse = METRICS.get("position_mse")(pred, target).cpu()  # (B, T)
        metrics = {
            "position_mse": float(mse.mean()),
            "position_mse_every5": float(mse[:, 4::5].mean()) if mse.shape[1] >= 5 else math.nan,
            "final_position_mse": float(mse[:, -1].mean()),
            "rollout_frames": float(mse.shape[1]),
            # frames before a rollout blew up (NaN from there on; = rollout_frames if none did)
            "finite_frames": float(torch.isfinite(mse).all(0).long().cumprod(0).sum()),
            "n_trajectories": float(target.shape[0]),
            "n_particles": float(target.shape[2]),
            "seconds_per_trajectory": seconds / target.shape[0],
        }
        curve = out / "position_mse.csv"  # frame, time (s), MSE averaged over the trajectories
        atomic_write_text(
            "frame,time,position_mse\n"
            + "".join(
                f"{k + 1},{t:.6g},{e:.6e}\n"
                for k, (t, e) in enumerate(zip(times.tolist(), mse.mean(0).tolist()))
            ),
            curve,
        )
        figures = [
            plot_rollout_error(
                mse.numpy(), out / "position_mse.png", title=spec.name, ylabel="position MSE (m²)"
            )
        ]
        if spec.evaluation.plots:
            t = target.shape[1]
            figures.append(
                plot_particles(
                    pred[0].cpu().numpy(),
                    target[0].cpu().numpy(),
                    out / "particles.png",
                    frames=sorted({0, t // 3, 2 * t // 3, t - 1}),
                    title=f"{spec.name}: trajectory 0 (frames after the initial state)",
                )
            )
        return {split: metrics}, figures

    @staticmethod
    def _check_settings(simulator: nn.Module, test_set: Any) -> None:
        """Another file must have been simulated with the training data's MPM settings."""
        recorded = simulation_settings(test_set.file.config, test_set.dim)
        differ = {
            k: (v, recorded.get(k)) for k, v in simulator.settings.items() if recorded.get(k) != v
        }
        if differ:
            raise DataFileError(
                test_set.path,
                "simulated with other MPM settings than the training data (setting: trained, "
                f"this file): {differ}; generate it with the training data's grid_n, dt and "
                "save_every",
            )
