"""Problem kinds (tasks): how each kind of problem is built, trained, evaluated, loaded, exported.

=================== ============================ ===================== ==========================
task                dataset kinds                model inputs          ``sciml.load`` returns
=================== ============================ ===================== ==========================
field_operator      grid_pair, pdebench_pair,    ``x`` (+ ``coords``)  :class:`~sciml.embed.
                    time_window, pdebench_window                       Surrogate` ``(x)``
time_conditioned    all2all                      ``x``, ``dt``         Surrogate ``(x, dt)``
learned_simulator   particle_trajectory,         MPM state / position  the simulator
                    particle_window              windows               (``rollout``)
probabilistic_field (``task:`` on grid data)     ``x`` (+ ``coords``)  Surrogate → ``(mean, var)``
point_set_process   space_time_points            context/target sets   PointSetModel → ``(mean,
                                                                       var)`` at the targets
=================== ============================ ===================== ==========================

Importing this package registers the tasks in :data:`sciml.registry.TASKS`. :func:`task_for`
picks a spec's task, :func:`load` restores a trained run, :func:`export` writes it for use
without sciml. Adding a kind of problem is one module here (see ``docs/design.md``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from sciml.devices import resolve_device
from sciml.embed import export_module
from sciml.registry import TASKS
from sciml.rundir import RunDir, RunDirError
from sciml.spec import Spec, SpecError
from sciml.tasks import field_operator as field_operator
from sciml.tasks import learned_simulator as learned_simulator
from sciml.tasks import point_set_process as point_set_process
from sciml.tasks import probabilistic_field as probabilistic_field
from sciml.tasks import time_conditioned as time_conditioned
from sciml.tasks.base import Task
from sciml.training.checkpoint import CheckpointError, load_checkpoint

__all__ = ["Task", "export", "load", "read_info", "task_class", "task_for"]


def task_class(name: str) -> type[Task]:
    """The task registered as ``name``."""
    return TASKS.get(name)


def task_for(spec: Spec) -> Task:
    """The spec's task: ``spec.task``, or the one whose dataset kinds include ``data.kind``."""
    kind = spec.data.kind
    if spec.task is not None:
        return task_class(spec.task)(spec)
    owners = [name for name in TASKS.names() if kind in task_class(name).dataset_kinds]
    if len(owners) != 1:
        raise SpecError(
            f"data.kind {kind!r}: no task trains on it by default; name one with `task:` "
            f"({', '.join(TASKS.names())})"
        )
    return task_class(owners[0])(spec)


def read_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A run's ``model.json``; runs made before tasks existed get theirs inferred."""
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise RunDirError(f"{run.path}: run directory not found")
    if not run.model_info.exists():
        raise RunDirError(
            f"{run.path}: no {run.model_info.name} (not a sciml run, or training never started)"
        )
    try:
        info = json.loads(run.model_info.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{run.model_info}: corrupt model description: {exc}") from None
    if "task" not in info:
        simulator = "simulation" in info.get("kwargs", {})
        info["task"] = "learned_simulator" if simulator else "field_operator"
    return info


def load(
    run_dir: str | os.PathLike,
    *,
    checkpoint: Literal["best", "last"] = "best",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """Restore the trained model of ``run_dir`` in eval mode, as its task hands it to users.

    A field-to-field run comes back as a :class:`~sciml.embed.Surrogate` (physical units in and
    out; ``surrogate(x)``, or ``surrogate(x, dt)`` for a time-conditioned one); a learned
    simulator as itself, e.g. a :class:`~sciml.models.learned_mpm.LearnedMPM` whose
    ``.simulator`` steps any particle state in SI units, or a GNS with ``rollout``. Checkpoints
    are read with ``weights_only=True``.

    Parameters
    ----------
    checkpoint:
        ``"best"`` (lowest validation loss) or ``"last"``.
    """
    device = resolve_device(device)  # a clear ValueError for a device this machine lacks
    run = RunDir(run_dir)
    info = read_info(run.path)
    path = run.checkpoint(checkpoint)
    if not path.exists():
        if checkpoint == "best" and run.checkpoint("last").exists():
            raise RunDirError(
                f"{path}: not found: validation never gave a finite loss (e.g. every validation "
                "rollout diverged); use the last checkpoint (--checkpoint last)"
            )
        raise RunDirError(f"{path}: checkpoint not found (did training save one?)")
    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise RunDirError(str(exc)) from None
    cls = task_class(info["task"])
    model = cls.build(info)
    model.load_state_dict(state["model"])
    return cls.for_use(model, info).to(device=device, dtype=dtype).eval()


def export(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    format: Literal["export", "torchscript", "onnx"] = "export",
    batch_size: int = 1,
) -> Path:
    """Write the trained model of ``run_dir`` to a file that loads without sciml
    (:func:`sciml.embed.export_module`), traced with its task's example inputs; the file is
    reloaded and compared with the in-memory model before returning. ``format="onnx"`` writes
    an ONNX file for onnxruntime, without torch (:func:`sciml.tasks.onnx_export.export_onnx`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if format not in ("export", "torchscript", "onnx"):
        raise ValueError(f"unknown export format {format!r}; use 'export', 'torchscript' or 'onnx'")
    info = read_info(run_dir)
    cls = task_class(info["task"])
    loaded = load(run_dir)
    if format == "onnx":
        from sciml.tasks.onnx_export import OnnxExportError, export_onnx, family_name

        # the batch axis is dynamic: traced at batch 2, checked at 1, 3 and batch_size too
        try:
            inputs = cls.example_inputs(loaded, 2)
            checks = [cls.example_inputs(loaded, b) for b in sorted({1, 3, batch_size} - {2})]
        except ValueError as exc:
            raise OnnxExportError(
                f"{family_name(info)}: cannot be exported to ONNX: {exc}"
            ) from None
        target = Path(out) if out is not None else RunDir(run_dir).export_file(".onnx")
        return export_onnx(loaded, inputs, target, info=info, checks=checks)
    inputs = cls.example_inputs(loaded, batch_size)
    suffix = ".pt2" if format == "export" else ".ts"
    target = Path(out) if out is not None else RunDir(run_dir).export_file(suffix)
    return export_module(loaded, inputs, target, format=format)
