"""Spec → run: the train / resume / evaluate workflows behind ``sciml train`` and ``sciml evaluate``.

The workflow runs the same steps for every kind of problem and leaves what differs to the spec's
task (:mod:`sciml.tasks`: datasets, model description, fitting, loss, evaluation, what ``load``
returns); it never tests a kind. The run directory's layout is :mod:`sciml.rundir`'s.

During training the model is validated, and ``best.pt`` chosen, on a validation split carved
from the end of the training trajectories (``data.n_val`` or ``data.val_fraction``); the test
split is read only by ``sciml evaluate``. With no validation trajectories (``n_val: 0``, or a
single training trajectory) selection uses the training split itself; ``model.json`` and
``metrics.json`` record which.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from sciml.atomic import atomic_write_text
from sciml.data.format import file_identity, identity_difference
from sciml.data.output_path import OutputPathError, check_output_dir
from sciml.devices import resolve_device
from sciml.evaluation.runner import write_report
from sciml.rundir import RunDir, RunDirError
from sciml.spec import Spec, SpecError, load_spec, save_spec
from sciml.tasks import Task, load, read_info, task_for
from sciml.tasks.base import validation_size
from sciml.training import Trainer, check_device, seed_everything
from sciml.training.checkpoint import CheckpointError, load_checkpoint
from sciml.training.config import RESUME_EXEMPT, fingerprint
from sciml.training.finetune import initialize_from
from sciml.training.memory import warn_if_too_large
from sciml.training.run_lock import acquire_run_lock


@dataclass
class RunResult:
    """Outcome of a training run."""

    run_dir: Path
    best_val_loss: float
    steps: int


@dataclass
class EvaluationReport:
    """Outcome of ``sciml evaluate``: metrics per split/resolution and the files written."""

    sections: dict[str, dict[str, Any]]
    json_path: Path
    markdown_path: Path
    figures: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# training


def _fingerprint(spec: Spec) -> str:
    """Hash of everything that determines the trained weights (not the settings a resumed run
    may change, :data:`~sciml.training.config.RESUME_EXEMPT`)."""
    d = spec.model_dump(mode="json")
    for key in RESUME_EXEMPT:
        d["trainer"].pop(key, None)
    return fingerprint(d)


def _build(spec: Spec, task: Task, info: dict[str, Any]) -> torch.nn.Module:
    """``task.build(info)``, with a constructor's rejection of a spec value (``ValueError`` or
    ``TypeError``, e.g. ``model.n_layers=-1``) reported as a :class:`SpecError`."""
    try:
        return task.build(info)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"model {spec.model_name!r}: invalid option value: {exc}") from None


def _open_and_build(spec: Spec) -> tuple[Task, torch.nn.Module, Dataset, Dataset, dict[str, Any]]:
    """The spec's task, its train/validation splits, and the (seeded, untrained) model with the
    constructor arguments the data fixes; ``info`` is what ``model.json`` records."""
    task = task_for(spec)
    training = task.dataset("train")  # all training trajectories, before any are held out
    n_training = len(training.trajectories)
    n_val = validation_size(spec.data, n_training)
    # Without held-out trajectories both splits are the training trajectories just opened
    # (a particle window dataset reads every position when it is built: not three times).
    train_set = task.dataset("train", n_val=n_val) if n_val else training
    val_set = task.dataset("val", n_val=n_val) if n_val else training
    info: dict[str, Any] = {
        "task": task.name,
        "name": spec.model_name,
        # what best.pt is chosen on: held-out training trajectories, or the training split
        "selection": (
            f"validation split ({n_val} trajectories held out of the {n_training} training ones)"
            if n_val
            else f"training split ({n_training} trajectories; no validation split)"
        ),
        "input_fields": spec.data.inputs,
        "output_fields": spec.data.outputs,
        "dataset_kind": spec.data.kind,
        "kwargs": spec.model_kwargs,
        **task.describe(train_set),
    }
    seed_everything(spec.seed)  # model initialization is part of the seeded run
    model = _build(spec, task, info).to(task.dtype)
    return task, model, train_set, val_set, info


def check(spec: Spec) -> dict[str, int]:
    """What ``sciml validate`` adds when the data file exists: open the splits and build the
    model, so that a data/spec mismatch or a model option value its constructor rejects is
    reported before a run starts. Trains nothing, writes nothing.

    Returns ``{"n_train", "n_val", "n_test", "n_parameters"}`` (samples, e.g. windows).
    """
    task, model, train_set, val_set, _ = _open_and_build(spec)
    test_set = task.dataset("test")
    return {
        "n_train": len(train_set),
        "n_val": len(val_set) if val_set.trajectories != train_set.trajectories else 0,
        "n_test": len(test_set),
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }


def train(
    spec: Spec,
    run_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> RunResult:
    """Train the model of ``spec`` into ``run_dir`` (default ``runs/<spec.name>``)."""
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / spec.name
    try:
        check_output_dir(run_dir, what="run directory")
    except OutputPathError as exc:
        raise RunDirError(str(exc)) from None
    acquire_run_lock(run_dir)  # before anything touches the directory (--overwrite deletes it)
    _check_trainer_device(spec)
    # Under torchrun every rank runs this function; only rank 0 owns the run directory.
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if main_rank and run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise RunDirError(
                f"{run_dir}: run directory exists; continue it with `sciml train --resume "
                f"{run_dir}`, or start over with --overwrite"
            )
        shutil.rmtree(run_dir)
    task, model, train_set, val_set, info = _open_and_build(spec)
    train_set, val_set = task.fit(model, train_set, val_set)
    warn_if_too_large(model, train_set[0], spec.trainer.batch_size, spec.trainer.device)
    if spec.init_from is not None:
        info["init_from"] = _initialize_from(spec, model)
    loss = task.loss()
    if main_rank:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{run_dir}: cannot create the run directory: {exc}") from None
        run = RunDir(run_dir)
        save_spec(spec, run.spec)
        atomic_write_text(json.dumps(info), run.model_info)
        atomic_write_text(json.dumps(file_identity(spec.data.file)), run.data_identity)
    return _fit(spec, model, loss, train_set, val_set, run_dir, progress=progress, resume=False)


def _initialize_from(spec: Spec, model: torch.nn.Module) -> dict[str, Any]:
    """Fine-tuning: the pretrained run's matching weights into ``model`` (after the new data's
    normalizers are fitted, which are kept); prints and returns what was loaded."""
    init = spec.init_from
    assert init is not None
    path = RunDir(init.run).checkpoint(init.checkpoint)
    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise SpecError(f"init_from: {exc}") from None
    try:
        report = initialize_from(model, state["model"], reinit=init.reinit, freeze=init.freeze)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    if not report.loaded:
        raise SpecError(
            f"init_from: {path} shares no tensor of matching name and shape with model "
            f"{spec.model_name!r}; is it a run of the same model family?"
        )
    summary = report.summary()
    print(f"init_from {path}:\n{summary}", file=sys.stderr)
    return {"run": init.run, "checkpoint": init.checkpoint, "summary": summary}


def resume(run_dir: str | os.PathLike, *, progress: bool = True) -> RunResult:
    """Continue an interrupted run from its last checkpoint, with the spec saved in it."""
    run_dir = Path(run_dir)
    acquire_run_lock(run_dir)
    spec = _run_spec(run_dir)
    _check_trainer_device(spec)
    _check_same_data(spec, run_dir)
    task, model, train_set, val_set, _ = _open_and_build(spec)
    train_set, val_set = task.fit(model, train_set, val_set)
    return _fit(
        spec, model, task.loss(), train_set, val_set, run_dir, progress=progress, resume=True
    )


def _check_same_data(spec: Spec, run_dir: Path) -> None:
    """Refuse to resume on a data file whose identity (:func:`file_identity`) changed since the
    run started, e.g. regenerated with other parameters: the resumed run would silently train on
    other data. Runs from before this record existed are not checked."""
    recorded = RunDir(run_dir).data_identity
    if not recorded.is_file():
        return
    difference = identity_difference(
        json.loads(recorded.read_text()), file_identity(spec.data.file)
    )
    if difference is not None:
        raise SpecError(
            f"{run_dir}: cannot resume: the data file {spec.data.file} changed since the run "
            f"started ({difference}); restore it, or start a new run"
        )


def _check_trainer_device(spec: Spec) -> None:
    """``trainer.device``/``amp``/``dtype`` usable on this machine, checked before any file is
    written (a :class:`SpecError` otherwise)."""
    t = spec.trainer
    try:
        check_device(t.device, t.amp, t.dtype)
    except ValueError as err:
        raise SpecError(f"spec {spec.name!r}: trainer: {err}") from None


def _fit(
    spec: Spec,
    model: torch.nn.Module,
    loss: torch.nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    run_dir: Path,
    *,
    progress: bool,
    resume: bool,
) -> RunResult:
    trainer = Trainer(
        model,
        loss,
        train_set,
        val_set,
        spec.trainer_config(progress=progress),
        run_dir,
        fingerprint=_fingerprint(spec),
    )
    result = trainer.fit(resume=resume)
    return RunResult(run_dir, float(result.best_val_loss), int(result.steps))


def _run_spec(run_dir: Path) -> Spec:
    """The resolved spec saved in a run directory."""
    spec_path = RunDir(run_dir).spec
    if not spec_path.exists():
        raise RunDirError(f"{run_dir}: no spec.yaml; not a sciml run directory")
    return load_spec(spec_path)


# ------------------------------------------------------------------------------------------------
# evaluation


def _run_notes(run_dir: Path, checkpoint: str, data: str | os.PathLike | None) -> dict[str, str]:
    """What an evaluation report evaluated: the checkpoint, what it was selected on, the data."""
    info = read_info(run_dir)
    selected = info.get("selection", "test split (a run made before validation splits existed)")
    return {
        "checkpoint": f"{checkpoint}.pt",
        "selected_on": selected if checkpoint == "best" else "- (the last training step)",
        "data": str(data) if data is not None else "the spec's data file, test split",
    }


def evaluate(
    run_dir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    split: Literal["test", "all"] | None = None,
    resolutions: Sequence[int] = (),
    out_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    checkpoint: Literal["best", "last"] = "best",
    vtu: int = 0,
) -> EvaluationReport:
    """Evaluate a trained run (its ``checkpoint``) on the test split of its data, or on
    ``data``, another file (its ``split``: ``"all"`` trajectories by default, so a file of test
    samples only can be used, at the training or another resolution), with zero-shot sections
    at other ``resolutions``.

    Writes ``metrics.json``, ``metrics.md`` and figures into ``out_dir`` (default
    ``run_dir/eval``); with ``vtu > 0`` also the predictions and ground truth of the first
    ``vtu`` samples or trajectories as ParaView files in ``out_dir/vtu``
    (:mod:`sciml.evaluation.vtu`).
    """
    if vtu < 0:
        raise SpecError(f"--vtu {vtu}: give the number of samples to write (0 writes none)")
    run_dir = Path(run_dir)
    spec = _run_spec(run_dir)
    try:
        resolve_device(device)
    except ValueError as err:
        raise SpecError(f"--device: {err}") from None
    if split is None:
        split = "all" if data is not None else "test"
    if split not in ("test", "all"):
        raise SpecError(f"--split {split!r}: choose 'test' or 'all'")
    out = Path(out_dir) if out_dir is not None else RunDir(run_dir).eval_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the evaluation folder: {exc}") from None
    task = task_for(spec)
    loaded = load(run_dir, checkpoint=checkpoint, device=device, dtype=task.dtype)
    sections, figures = task.evaluate(
        loaded,
        data=data,
        split=split,
        resolutions=list(resolutions),
        out=out,
        device=device,
        vtu=vtu,
    )
    notes = _run_notes(run_dir, checkpoint, data)
    if data is not None:
        notes["data"] = f"{data}, {split} split"
    json_path, md_path = write_report(sections, out, run=notes)
    return EvaluationReport(sections, json_path, md_path, figures)
