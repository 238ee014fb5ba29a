"""One cell of the bench: a model family trained on one benchmark with one seed, by the workflow.

A cell is an ordinary spec (:func:`cell_spec`) trained by :func:`sciml.workflow.train`
(validation-split selection, as every run) and evaluated by :func:`sciml.workflow.evaluate` on
the test split and at the benchmark's zero-shot resolutions; there is no second training loop.
Before training, the task decides whether the family can take part
(:meth:`~sciml.tasks.base.Task.model_problem`), and :func:`sciml.workflow.check` builds it for
the benchmark's data: a family that cannot be built is *skipped* with the reason. A cell's
outcome is one JSON record (:func:`run_cell`), written atomically by the runner.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sciml import workflow
from sciml.bench.profile import Profile
from sciml.catalog import preset_names
from sciml.rundir import RunDir
from sciml.spec import Spec, SpecError, load_spec
from sciml.tasks import task_for
from sciml.training import NonFiniteLossError
from sciml.training.config import fingerprint

#: outcomes that are final: a resumed bench does not run such a cell again
FINISHED = ("ok", "skipped", "diverged")
#: epochs large enough that the budget's step count always ends a run
_MANY_EPOCHS = 10**9


@dataclass(frozen=True)
class Cell:
    """Model family ``model`` on benchmark ``benchmark`` with seed ``seed``."""

    benchmark: str
    model: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.benchmark}/{self.model}/seed{self.seed}"


class BenchInterrupted(KeyboardInterrupt):
    """A cell's training was stopped by Ctrl-C / SIGTERM (its run is not recorded)."""


def model_section(profile: Profile, benchmark: str, family: str) -> dict[str, Any]:
    """The spec's ``model`` section of ``family`` on ``benchmark``: the profile's options for
    the family (else its catalog preset of the same name, else its constructor defaults), with
    the benchmark's overrides key by key."""
    base = profile.models.get(family)
    if base is None:
        base = {"preset": family} if family in preset_names("models") else {}
    section = {**base, **profile.benchmarks[benchmark].models.get(family, {})}
    if "preset" not in section:
        section.setdefault("name", family)
    return section


def cell_spec(
    profile: Profile, cell: Cell, data_file: Path, *, steps: int | None, device: str
) -> Spec:
    """The spec of ``cell``: the benchmark's data in ``data_file``, the family's model section,
    the profile's optimizer/scheduler/trainer/evaluation sections, ``steps`` optimizer steps
    (``None``: not yet known, for checks only), zero-shot resolutions, no figures."""
    bench = profile.benchmarks[cell.benchmark]
    trainer = {**profile.trainer, **bench.trainer, "epochs": _MANY_EPOCHS}
    trainer.update(progress=False, device=device)
    if steps is not None:
        trainer.update(max_steps=steps, checkpoint_every=steps)
    raw: dict[str, Any] = {
        "name": f"{cell.benchmark}-{cell.model}-seed{cell.seed}",
        "seed": cell.seed,
        "data": {
            **bench.data,
            "dataset": bench.recipe,
            "path": str(data_file),
            "generate": dict(bench.generate),
        },
        "model": model_section(profile, cell.benchmark, cell.model),
        "optimizer": dict(profile.optimizer),
        "scheduler": dict(profile.scheduler),
        "trainer": trainer,
        "evaluation": {**profile.evaluation, "resolutions": list(bench.zero_shot), "plots": False},
    }
    if bench.task is not None:
        raw["task"] = bench.task
    where = f"{profile.source} [benchmark {cell.benchmark}, model {cell.model}]"
    spec = load_spec(where, text=yaml.safe_dump(raw, sort_keys=False))
    if spec.model_name != cell.model:
        raise SpecError(
            f"{where}: models.{cell.model}: its preset is a model of family "
            f"{spec.model_name!r}, not {cell.model!r}"
        )
    return spec


def cell_fingerprint(profile: Profile, spec: Spec) -> str:
    """What makes a cell's result: the resolved spec (less the settings that do not change
    it) and the budget. A stored record with another fingerprint is stale and rerun."""
    resolved = spec.model_dump(mode="json")
    for key in ("max_steps", "checkpoint_every", "progress", "device"):
        resolved["trainer"].pop(key, None)
    return fingerprint({"spec": resolved, "budget": profile.budget.model_dump()})


def train_seconds(run_dir: Path) -> float:
    """Training time of a finished run (s): the ``time`` of the last ``metrics.csv`` row (the
    training loop, validation passes included; data loading and model building not)."""
    with RunDir(run_dir).metrics_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["time"])


def run_cell(profile: Profile, cell: Cell, data_file: Path, run_dir: Path, *, device: str) -> dict:
    """Check, train and evaluate ``cell`` into ``run_dir``; its record.

    Status ``"ok"`` (metrics), ``"skipped"`` (the task or the constructor refused the family
    for this benchmark: ``reason``) or ``"diverged"`` (non-finite loss: ``reason``). Raises
    :class:`BenchInterrupted` when a stop signal ended training early, and
    :class:`~sciml.spec.SpecError` for a profile the spec layer refuses.
    """
    spec = cell_spec(profile, cell, data_file, steps=profile.budget.steps, device=device)
    record: dict[str, Any] = {
        "benchmark": cell.benchmark,
        "model": cell.model,
        "seed": cell.seed,
        "fingerprint": cell_fingerprint(profile, spec),
    }
    task = task_for(spec)
    record["task"] = task.name
    reason = task.model_problem(cell.model)
    if reason is None:
        try:
            sizes = workflow.check(spec)  # opens the splits and builds the model
        except SpecError as exc:
            reason = str(exc)
    if reason is not None:
        return {**record, "status": "skipped", "reason": reason}
    record.update(sizes)
    steps = profile.budget.steps
    try:
        if steps is None:
            steps, per_step = _steps_for_seconds(profile, cell, data_file, run_dir, device)
            record["probe_seconds_per_step"] = per_step
            spec = cell_spec(profile, cell, data_file, steps=steps, device=device)
        result = workflow.train(spec, run_dir, overwrite=True, progress=False)
    except NonFiniteLossError as exc:
        return {**record, "status": "diverged", "reason": str(exc)}
    if result.steps < steps:
        raise BenchInterrupted(f"{cell.key}: training stopped at step {result.steps} of {steps}")
    report = workflow.evaluate(run_dir, device=device)
    test = report.sections["test"]
    zero_shot = {
        str(res): report.sections.get(
            f"test@{res}", {"skipped": "the training resolution (not zero-shot)"}
        )
        for res in profile.benchmarks[cell.benchmark].zero_shot
    }
    return {
        **record,
        "status": "ok",
        "steps": result.steps,
        "train_seconds": train_seconds(run_dir),
        "best_val_loss": result.best_val_loss,
        "metrics": {k: v for k, v in test.items() if isinstance(v, float)},
        "zero_shot": zero_shot,
    }


def _steps_for_seconds(
    profile: Profile, cell: Cell, data_file: Path, run_dir: Path, device: str
) -> tuple[int, float]:
    """The step count that fits ``budget.seconds``, from a throw-away run of ``probe_steps``
    steps of the same cell; and the probe's seconds per step. The probe's time includes the
    first steps' warm-up, so a cell trains for a little less than its budget (its recorded
    ``train_seconds`` is measured, not this estimate)."""
    budget = profile.budget
    assert budget.seconds is not None
    probe_dir = run_dir.with_name(run_dir.name + ".probe")
    spec = cell_spec(profile, cell, data_file, steps=budget.probe_steps, device=device)
    result = workflow.train(spec, probe_dir, overwrite=True, progress=False)
    if result.steps < budget.probe_steps:
        raise BenchInterrupted(f"{cell.key}: the timing probe was stopped")
    per_step = train_seconds(probe_dir) / budget.probe_steps
    shutil.rmtree(probe_dir)
    return max(1, int(budget.seconds / per_step)), per_step
