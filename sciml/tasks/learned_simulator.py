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
trajectory (and, with ``chamfer_distance`` in ``evaluation.metrics``, the Chamfer distance of
the particle windows' rollouts, ``chamfer``); ``position_mse.csv`` and figures. ``sciml.load`` returns the model itself (its
``rollout``/``simulator`` take particle states in SI units).

**Reduced-order runs** (GIOROM, arXiv 2407.03925): ``data.options.sampling: {method: fps |
random, ratio: (0, 1], seed: int}`` (seed default: the spec's) keeps ``⌈ratio·P⌉`` particles of
every trajectory, chosen on its frame 0 before windowing
(:class:`~sciml.data.particles.ParticleWindowSplit` with a sampler); the stepper (``gns`` or
``giorom``) trains on their windows. ``model.reconstruction: {...}`` (``giorom`` only) adds the
dense reconstruction (:class:`~sciml.models.dense_reconstruction.KernelReconstruction`) as a
second part of the same run: it trains on ground-truth sparse→dense pairs of the same frames,
its own loss ``loss_reconstruction`` (MSE of the dense positions, m²) next to
``loss_stepper`` (the spec's ``trainer.loss`` on the normalized accelerations), both logged as
columns of ``metrics.csv``. The parts share no parameter, so the summed loss trains each on
its own (one Adam optimizer and schedule; ``grad_clip`` acts on the joint gradient norm, and
``best.pt`` is chosen on the summed validation loss). Evaluation then reports the rollout error
of the sampled particles (``position_mse`` …), of every particle after reconstructing the
rollout (``dense_position_mse``, ``dense_chamfer``), of the kNN-interpolation baseline
(``knn_dense_*``) and of the reconstruction of the *true* sparse trajectories
(``true_sparse_*``, GIOROM's published setting); ``sciml.load`` returns a
:class:`~sciml.models.giorom.ReducedOrderSimulator` (``rom(dense_history, n_steps)``). A
sampled ``gns`` without reconstruction is the "sparse GNS + kNN interpolation" baseline.
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
from sciml.data.particles import sparse_positions
from sciml.evaluation.plots import plot_particles, plot_rollout_error
from sciml.evaluation.vtu import write_particle_rollout
from sciml.models.build import build_simulator
from sciml.models.learned_mpm import simulation_settings
from sciml.registry import METRICS, TASKS
from sciml.solvers.mpm import Grid
from sciml.spec import SpecError
from sciml.tasks.base import Task
from sciml.training.loss_terms import LossTerms, build_loss

SAMPLING_KEYS = ("method", "ratio", "seed")


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

    @property
    def sampling(self) -> dict[str, Any] | None:
        """``{"method", "ratio", "seed"}`` of ``data.options.sampling`` (checked), or ``None``
        for a run on every particle."""
        raw = self.spec.data.options.get("sampling")
        reconstruction = self.spec.model_kwargs.get("reconstruction") is not None
        if raw is None:
            if reconstruction:
                raise SpecError(
                    "model.reconstruction: a dense reconstruction needs sampled particles; set "
                    "data.options.sampling: {method: fps, ratio: 0.1}"
                )
            return None
        where = "data.options.sampling"
        if not self.windows:
            raise SpecError(
                f"{where}: sampling needs data.kind 'particle_window', got {self.spec.data.kind!r}"
            )
        if not isinstance(raw, Mapping) or "ratio" not in raw:
            raise SpecError(
                f"{where}: expected {{method: fps|random, ratio: (0, 1], seed}}, got {raw!r}"
            )
        unknown = sorted(set(raw) - set(SAMPLING_KEYS))
        if unknown:
            raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {list(SAMPLING_KEYS)}")
        settings = {
            "method": raw.get("method", "fps"),
            "ratio": raw["ratio"],
            "seed": raw.get("seed", self.spec.seed),
        }
        from sciml.models.giorom import check_sampling  # torch-geometric: imported on use

        try:
            check_sampling(settings["method"], settings["ratio"])
        except ValueError as exc:
            key = "ratio" if "ratio" in str(exc) else "method"
            raise SpecError(f"{where}.{key}: {exc}") from None
        if isinstance(settings["seed"], bool) or not isinstance(settings["seed"], int):
            raise SpecError(f"{where}.seed: expected an integer, got {settings['seed']!r}")
        return settings

    # ------------------------------------------------------------------------------------ data
    def dataset_options(self) -> dict[str, Any]:
        if not self.windows:
            return {}
        # windows of the model's history; statistics fitted with its training noise
        kw = self.spec.model_kwargs
        options: dict[str, Any] = {k: kw[k] for k in ("history", "noise_std") if k in kw}
        sampling = self.sampling
        if sampling is not None:
            # sparse sampling in the data, before windowing; the radius check of the model's graph
            from sciml.models.giorom import make_sampler  # torch-geometric: imported on use

            sampler = make_sampler(**sampling, radius=kw.get("radius"))

            def checked(reference: torch.Tensor) -> torch.Tensor:
                try:
                    return sampler(reference)
                except ValueError as exc:  # sampled particles the graph leaves isolated
                    raise SpecError(f"model.radius / data.options.sampling.ratio: {exc}") from None

            options["sampler"] = checked
            options["pairs"] = kw.get("reconstruction") is not None
        return options

    def open_dataset(self, cls: Any, file: Path, options: dict[str, Any]) -> Dataset:
        options.pop("sampling", None)  # read by dataset_options, not a dataset argument
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
    def model_keywords(self) -> tuple[str, ...]:
        # windows: the stepper gets the dimension and the wall box; trajectories: the MPM settings
        return ("dim", "bounds") if self.windows else ("simulation",)

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
            info = {"kwargs": kwargs, "n_dims": train_set.dim}
            if train_set.indices is not None:
                info["sampling"] = self.sampling
                info["n_particles"] = int(train_set.dense.shape[2])
                info["n_sampled"] = int(train_set.indices.shape[1])
            return info
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

    def loss(self) -> LossTerms:
        """The spec's ``trainer.loss``; with a dense reconstruction, the terms ``stepper`` (that
        loss on the normalized accelerations) and ``reconstruction`` (MSE of the dense
        positions, m²), logged separately."""
        base = build_loss(self.spec.trainer.loss)
        if self.spec.model_kwargs.get("reconstruction") is None:
            return base
        return LossTerms(
            [("stepper", 1.0, _StepperTerm(base)), ("reconstruction", 1.0, _ReconstructionTerm())]
        )

    @classmethod
    def for_use(cls, model: nn.Module, info: Mapping[str, Any]) -> nn.Module:
        """The model; for a run on sampled particles a
        :class:`~sciml.models.giorom.ReducedOrderSimulator` around it."""
        if info.get("sampling") is None:
            return model
        from sciml.models.giorom import ReducedOrderSimulator

        return ReducedOrderSimulator(model, info["sampling"])  # type: ignore[arg-type]

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
        vtu: int = 0,
    ) -> tuple[dict[str, dict[str, Any]], list[Path]]:
        spec = self.spec
        if resolutions:
            raise SpecError("--resolution: a particle simulator has no grid resolution to change")
        test_set = self.dataset(split, path=data)
        sampled = self.windows and self.sampling is not None
        if self.windows:
            # a reduced-order run steps the sampled particles (test_set.positions are theirs)
            stepper = loaded.stepper if sampled else loaded
            positions = test_set.positions.to(device=device, dtype=self.dtype)
            history = loaded.history * test_set.stride
            frames = positions[:, :: test_set.stride]
            start = frames[:, : loaded.history + 1]
            target = frames[:, loaded.history + 1 :]
            with torch.no_grad():
                started = time.perf_counter()
                pred = stepper.rollout(start, target.shape[1])
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
        if "chamfer_distance" in spec.evaluation.metrics:
            # of the stepped particles: every particle of a dense run, the sampled ones otherwise
            metrics["chamfer"] = float(METRICS.get("chamfer_distance")(pred, target).mean())
        curves = {"position_mse": mse.mean(0).tolist()}
        dense_pred = None  # (B, T, P, d) a reduced-order run's reconstruction of every particle
        if sampled:
            dense_metrics, dense_curves, dense_pred = self._dense_metrics(
                loaded, test_set, pred, device
            )
            metrics.update(dense_metrics)
            curves.update({k: c.tolist() for k, c in dense_curves.items()})
        if vtu:
            self._write_vtu(
                out / "vtu",
                vtu,
                test_set,
                pred,
                target,
                times,
                dense_pred,
                loaded.history if self.windows else 0,
            )
        curve = out / "position_mse.csv"  # frame, time (s), MSE averaged over the trajectories
        atomic_write_text(
            "frame,time,"
            + ",".join(curves)
            + "\n"
            + "".join(
                f"{k + 1},{t:.6g}," + ",".join(f"{c[k]:.6e}" for c in curves.values()) + "\n"
                for k, t in enumerate(times.tolist())
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
            if dense_pred is not None:
                figures.append(
                    plot_particles(
                        dense_pred[0].cpu().numpy(),
                        test_set.dense[0, :: test_set.stride][loaded.history + 1 :].numpy(),
                        out / "particles_dense.png",
                        frames=sorted({0, t // 3, 2 * t // 3, t - 1}),
                        title=f"{spec.name}: trajectory 0, every particle after reconstruction",
                    )
                )
        return {split: metrics}, figures

    def _write_vtu(
        self,
        directory: Path,
        count: int,
        test_set: Any,
        pred: torch.Tensor,
        target: torch.Tensor,
        times: torch.Tensor,
        dense_pred: torch.Tensor | None,
        history: int,
    ) -> None:
        """ParaView series of the first ``count`` rollouts ``pred`` ``(B, T, M, d)`` and their
        ground truth ``target``, one folder ``trajectory_000 …`` each. A reduced-order run
        (``dense_pred`` ``(B, T, P, d)``, its reconstruction) writes the dense body, the
        stepped particles and the dense ground truth
        (:meth:`~sciml.models.giorom.ReducedOrderRollout.write_vtu`)."""
        n = min(count, pred.shape[0])
        if dense_pred is not None:
            from sciml.models.giorom import ReducedOrderRollout

            frames = test_set.dense[:, :: test_set.stride].to(dense_pred)
            rollout = ReducedOrderRollout(pred, dense_pred, test_set.indices)
            for k in range(n):
                rollout.write_vtu(
                    directory / f"trajectory_{k:03d}",
                    frames[:, 0],
                    times=times,
                    truth=frames[:, history + 1 :],
                    trajectory=k,
                )
            return
        # frame 0 of each trajectory: the configuration displacements are measured from
        positions = test_set.positions if self.windows else test_set.positions()
        reference = positions[:, 0]  # (B, P, d)
        for k in range(n):
            write_particle_rollout(
                directory / f"trajectory_{k:03d}", pred[k], target[k], times, reference[k]
            )

    def _dense_metrics(
        self, rom: Any, test_set: Any, pred: torch.Tensor, device: str
    ) -> tuple[dict[str, float], dict[str, torch.Tensor], torch.Tensor]:
        """Errors on every particle of a reduced-order rollout ``pred`` ``(B, T, M, d)``: the
        learned (or, without one, kNN) reconstruction of it, the kNN baseline, and both
        reconstructions of the true sparse trajectories. Returns the metrics, the per-frame
        curves (averaged over trajectories) and the reconstructed rollout ``(B, T, P, d)``."""
        dense = test_set.dense  # (N, T, P, d) float64, m
        indices = rom.sample(dense[:, 0])
        if not torch.equal(indices, test_set.indices):
            raise RuntimeError(
                "the loaded model samples other particles than the test data: their samplers "
                f"differ ({rom.sampling})"
            )
        stride, h = test_set.stride, rom.history
        frames = dense[:, ::stride].to(device=device, dtype=self.dtype)
        sparse = sparse_positions(frames, indices.to(device))
        dense_ref, sparse_ref = frames[:, 0], sparse[:, 0]
        target, true_sparse = frames[:, h + 1 :], sparse[:, h + 1 :]
        started = time.perf_counter()
        recon = rom.reconstruct(sparse_ref, pred, dense_ref)
        seconds = time.perf_counter() - started
        knn = rom.knn_reconstruct(sparse_ref, pred, dense_ref)
        mse, chamfer = METRICS.get("position_mse"), METRICS.get("chamfer_distance")
        errors = {
            "dense_position_mse": mse(recon, target).cpu(),
            "knn_dense_position_mse": mse(knn, target).cpu(),
        }
        true_recon = rom.reconstruct(sparse_ref, true_sparse, dense_ref)
        true_knn = rom.knn_reconstruct(sparse_ref, true_sparse, dense_ref)
        metrics = {
            **{k: float(e.mean()) for k, e in errors.items()},
            "dense_final_position_mse": float(errors["dense_position_mse"][:, -1].mean()),
            "knn_dense_final_position_mse": float(errors["knn_dense_position_mse"][:, -1].mean()),
            "dense_chamfer": float(chamfer(recon, target).mean()),
            "knn_dense_chamfer": float(chamfer(knn, target).mean()),
            "true_sparse_reconstruction_mse": float(mse(true_recon, target).mean()),
            "true_sparse_knn_mse": float(mse(true_knn, target).mean()),
            "n_dense_particles": float(dense.shape[2]),
            "sampling_ratio": float(rom.sampling["ratio"]),
            "reconstruction_seconds_per_trajectory": seconds / target.shape[0],
        }
        return metrics, {k: e.mean(0) for k, e in errors.items()}, recon

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


class _StepperTerm(nn.Module):
    """The stepper's loss (the spec's ``trainer.loss``) on a
    :class:`~sciml.models.giorom.ReducedOrderPrediction`'s accelerations vs ``batch["y"]``."""

    uses_batch = True

    def __init__(self, loss: LossTerms) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.loss(pred.acceleration, batch)


class _ReconstructionTerm(nn.Module):
    """Mean squared error (m²) of the reconstructed dense positions vs ``batch["dense"]``."""

    uses_batch = True

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return (pred.dense - batch["dense"]).square().mean()
