"""Spec → run: the train / resume / evaluate workflows behind ``sciml train`` and ``sciml evaluate``.

This is the only module that knows both the spec and the run-directory layout::

    runs/<name>/
        spec.yaml          the resolved spec (presets and --set overrides applied)
        model.json         how to rebuild the model: name, keywords, channels, grid, normalizers
        checkpoints/       last.pt, best.pt, step_<N>.pt (written by the Trainer, atomically)
        metrics.csv        training curve;   tensorboard/  the same for TensorBoard
        eval/              metrics.json, metrics.md, figures (written by `sciml evaluate`)

During training the model is validated, and ``best.pt`` chosen, on a validation split carved
from the end of the training trajectories (``data.n_val`` or ``data.val_fraction``); the test
split is read only by ``sciml evaluate``. With no validation trajectories (``n_val: 0``, or a
single training trajectory) selection uses the training split itself; ``metrics.json`` records
which.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from torch.utils.data import DataLoader, Dataset

from sciml.atomic import atomic_write_text
from sciml.data.format import DataFileError, DatasetFile, file_identity, identity_difference
from sciml.data.grid import InMemoryDataset
from sciml.data.particle_states import STATE_KEYS
from sciml.devices import resolve_device
from sciml.embed import MODEL_INFO, RunDirError, Surrogate, load
from sciml.evaluation.plots import plot_particles, plot_rollout_error, plot_samples
from sciml.evaluation.runner import (
    autoregressive_rollout,
    compute_metrics,
    predict,
    time_inference,
    write_report,
)
from sciml.models.build import build_normalized_model, build_simulator
from sciml.models.learned_mpm import simulation_settings
from sciml.registry import DATASETS, METRICS
from sciml.spec import DataSpec, Spec, SpecError, load_spec, save_spec
from sciml.training import Trainer, check_device, seed_everything
from sciml.training.config import RESUME_EXEMPT, fingerprint
from sciml.training.loss_terms import build_loss
from sciml.training.run_lock import acquire_run_lock

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: dataset kind of whole particle trajectories, trained as a learned simulator
PARTICLE_KIND = "particle_trajectory"
#: training sets up to this size are stacked into memory once (batched indexing, no collation)
IN_MEMORY_BYTES = 2**30
#: file in a run directory recording the identity of the data file the run started on
DATA_IDENTITY = "data_identity.json"

T = TypeVar("T")


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
# data


def _generate_command(data: DataSpec) -> str:
    # compact JSON in shell quotes, so the printed command can be pasted as it is
    sets = "".join(
        " --set " + shlex.quote(f"{k}={json.dumps(v, separators=(',', ':'))}")
        for k, v in data.generate.items()
    )
    return f"sciml generate {data.dataset}{sets} --out {shlex.quote(str(data.file))}"


def validation_size(data: DataSpec, n_training: int) -> int:
    """Validation trajectories out of ``n_training`` training ones: ``data.n_val``, else
    ``round(val_fraction · n_training)`` but at least one (none from a single trajectory)."""
    if data.n_val is not None:
        return data.n_val
    if n_training < 2 or data.val_fraction == 0:
        return 0
    return min(n_training - 1, max(1, round(data.val_fraction * n_training)))


def build_dataset(
    data: DataSpec,
    split: str,
    *,
    path: str | os.PathLike | None = None,
    subsample: int | None = None,
    dtype: torch.dtype = torch.float32,
    n_val: int = 0,
) -> Dataset:
    """The ``split`` (``"train"``/``"val"``/``"test"``/``"all"``) dataset described by a spec's
    data section, with ``n_val`` of the training trajectories held out as ``"val"``."""
    file = Path(path) if path is not None else data.file
    if not file.exists():
        hint = f"; make it with: {_generate_command(data)}" if path is None else ""
        raise DataFileError(file, f"data file not found{hint}")
    cls = DATASETS.get(data.kind)
    common = {
        "split": split,
        "n_train": data.n_train,
        "n_test": data.n_test,
        "n_val": n_val,
        "subsample": subsample if subsample is not None else data.subsample,
        "in_memory": True,
        "dtype": dtype,
        **data.options,
    }
    if data.test_fraction is not None:
        common["test_fraction"] = data.test_fraction
    if data.kind == PARTICLE_KIND:
        if list(data.inputs) != list(STATE_KEYS) or list(data.outputs) != ["position"]:
            raise SpecError(
                f"data.inputs/outputs: dataset kind {PARTICLE_KIND!r} feeds a learned simulator "
                f"the MPM state; use inputs: {list(STATE_KEYS)} and outputs: [position]"
            )
        common.pop("in_memory")
        return cls(file, **common)
    if data.kind.endswith("pair"):
        return cls(file, data.inputs, data.outputs, **common)
    if data.outputs != data.inputs:
        raise SpecError(
            f"data.outputs: dataset kind {data.kind!r} predicts its own state; set outputs equal "
            f"to inputs ({data.inputs})"
        )
    return cls(file, data.inputs, **common)


# ------------------------------------------------------------------------------------------------
# training


def _fingerprint(spec: Spec) -> str:
    """Hash of everything that determines the trained weights (not the settings a resumed run
    may change, :data:`~sciml.training.config.RESUME_EXEMPT`)."""
    d = spec.model_dump(mode="json")
    for key in RESUME_EXEMPT:
        d["trainer"].pop(key, None)
    return fingerprint(d)


def _build(spec: Spec, build: Callable[[dict[str, Any]], T], info: dict[str, Any]) -> T:
    """``build(info)``, with a constructor's rejection of a spec value (``ValueError`` or
    ``TypeError``, e.g. ``model.n_layers=-1``) reported as a :class:`SpecError`."""
    try:
        return build(info)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"model {spec.model_name!r}: invalid option value: {exc}") from None


def _open_and_build(spec: Spec) -> tuple[torch.nn.Module, Dataset, Dataset, dict[str, Any]]:
    """Open the train/validation splits and build the (seeded, untrained) model with the
    constructor arguments the data fixes. A learned simulator (NCLaw) on whole trajectories takes
    the MPM settings from the file, so the law is trained in the simulator that made the data."""
    dtype = DTYPES[spec.trainer.dtype]
    n_training = len(build_dataset(spec.data, "train", dtype=dtype).trajectories)
    n_val = validation_size(spec.data, n_training)
    train_set = build_dataset(spec.data, "train", dtype=dtype, n_val=n_val)
    val_set = build_dataset(spec.data, "val", dtype=dtype, n_val=n_val)
    info: dict[str, Any] = {
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
    }
    if spec.data.kind == PARTICLE_KIND:
        simulation = simulation_settings(train_set.file.config, train_set.dim)
        info.update(kwargs={**spec.model_kwargs, "simulation": simulation}, n_dims=train_set.dim)
        builder: Callable[[dict[str, Any]], torch.nn.Module] = build_simulator
    else:
        sample = train_set[0]
        x, y = sample["x"], sample["y"]
        info.update(
            kwargs=spec.model_kwargs,
            in_channels=int(x.shape[0]),
            out_channels=int(y.shape[0]),
            n_dims=int(x.dim() - 1),
            spatial_shape=[int(s) for s in x.shape[1:]],
            normalize=spec.data.normalize.model_dump(),
            coords=sample["coords"].tolist() if "coords" in sample else None,
        )
        builder = build_normalized_model
    seed_everything(spec.seed)  # model initialization is part of the seeded run
    model = _build(spec, builder, info).to(dtype)
    return model, train_set, val_set, info


def _prepare(spec: Spec) -> tuple[torch.nn.Module, Dataset, Dataset, dict[str, Any]]:
    """:func:`_open_and_build`, then what training needs: the training set in memory where it
    fits, and the normalizers (and a POD basis) fitted on it."""
    model, train_set, val_set, info = _open_and_build(spec)
    if spec.data.kind == PARTICLE_KIND:
        return model, InMemoryDataset(train_set.tensors()), val_set, info
    sample = train_set[0]
    nbytes = len(train_set) * sum(v.numel() * v.element_size() for v in sample.values())
    if nbytes <= IN_MEMORY_BYTES:
        # batched indexing instead of per-sample collation (most of a small model's step)
        train_set = InMemoryDataset.from_dataset(train_set)
        batches: Any = [train_set.tensors]
    else:
        batches = DataLoader(train_set, batch_size=256, shuffle=False)
    model.input_normalizer.fit(batches, key="x")
    model.output_normalizer.fit(batches, key="y")
    fit_pod = getattr(model.model, "fit_pod", None)
    if callable(fit_pod):
        # POD-DeepONet: the trunk is the POD basis of the (normalized) training outputs
        fit_pod(torch.cat([model.output_normalizer.encode(b["y"]) for b in batches]))
    return model, train_set, val_set, info


def check(spec: Spec) -> dict[str, int]:
    """What ``sciml validate`` adds when the data file exists: open the splits and build the
    model, so that a data/spec mismatch or a model option value its constructor rejects is
    reported before a run starts. Trains nothing, writes nothing.

    Returns ``{"n_train", "n_val", "n_test", "n_parameters"}`` (samples, e.g. windows).
    """
    model, train_set, val_set, _ = _open_and_build(spec)
    test_set = build_dataset(spec.data, "test", dtype=DTYPES[spec.trainer.dtype])
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
    model, train_set, val_set, info = _prepare(spec)
    if main_rank:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{run_dir}: cannot create the run directory: {exc}") from None
        save_spec(spec, run_dir / "spec.yaml")
        atomic_write_text(json.dumps(info), run_dir / MODEL_INFO)
        atomic_write_text(json.dumps(file_identity(spec.data.file)), run_dir / DATA_IDENTITY)
    return _fit(spec, model, train_set, val_set, run_dir, progress=progress, resume=False)


def resume(run_dir: str | os.PathLike, *, progress: bool = True) -> RunResult:
    """Continue an interrupted run from its last checkpoint, with the spec saved in it."""
    run_dir = Path(run_dir)
    acquire_run_lock(run_dir)
    spec = _run_spec(run_dir)
    _check_trainer_device(spec)
    _check_same_data(spec, run_dir)
    model, train_set, val_set, _ = _prepare(spec)
    return _fit(spec, model, train_set, val_set, run_dir, progress=progress, resume=True)


def _check_same_data(spec: Spec, run_dir: Path) -> None:
    """Refuse to resume on a data file whose identity (:func:`file_identity`) changed since the
    run started, e.g. regenerated with other parameters: the resumed run would silently train on
    other data. Runs from before this record existed are not checked."""
    recorded = run_dir / DATA_IDENTITY
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
    train_set: Dataset,
    val_set: Dataset,
    run_dir: Path,
    *,
    progress: bool,
    resume: bool,
) -> RunResult:
    trainer = Trainer(
        model,
        build_loss(spec.trainer.loss),
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
    spec_path = run_dir / "spec.yaml"
    if not spec_path.exists():
        raise RunDirError(f"{run_dir}: no spec.yaml; not a sciml run directory")
    return load_spec(spec_path)


# ------------------------------------------------------------------------------------------------
# evaluation


def _subsample_for(file: DatasetFile, resolution: int) -> int:
    native = file.spatial_shape[0]
    if resolution <= 0 or native % resolution:
        options = sorted({native // k for k in range(1, native + 1) if native % k == 0})
        raise SpecError(
            f"--resolution {resolution}: {file.path} has {native} points per axis; "
            f"available resolutions: {options[-6:]}"
        )
    return native // resolution


def _rollout_section(
    surrogate: Surrogate, test_set: Any, n_steps: int, out_dir: Path, dtype: torch.dtype
) -> tuple[dict[str, float], Path]:
    """Autoregressive rollout over the test trajectories: relative L2 error per step."""
    n_in, stride = test_set.n_input_steps, test_set.stride
    available = (len(test_set.time) - 1) // stride - n_in + 1
    n_steps = min(n_steps, available)
    times = slice(0, (n_in + n_steps) * stride, stride)
    frames = torch.stack(
        [test_set.trajectory(k, times) for k in range(len(test_set.trajectories))]
    ).to(dtype)
    extra = {}
    if surrogate.needs_coords:
        extra["coords"] = test_set.coords.expand(frames.shape[0], *test_set.coords.shape)
    pred = autoregressive_rollout(
        surrogate.model, frames[:, :n_in], n_steps, n_input_steps=n_in, extra=extra
    )
    errors = METRICS.get("rollout_error")(pred, frames[:, n_in:])
    fig = plot_rollout_error(errors.numpy(), out_dir / "rollout_error.png", title="test rollout")
    summary = {
        "rollout_steps": float(n_steps),
        "rollout_relative_l2_final": float(errors[:, -1].mean()),
        "rollout_relative_l2_mean": float(errors.mean()),
    }
    return summary, fig


def _evaluate_learned_simulator(
    spec: Spec,
    run_dir: Path,
    data: str | os.PathLike | None,
    out: Path,
    device: str,
    checkpoint: Literal["best", "last"],
) -> EvaluationReport:
    """Free rollouts of a learned simulator from the first frame of every test trajectory:
    position MSE per frame (NCLaw's metric), its mean over all / every 5th frame, the final
    frame's, how many frames stayed finite, the wall time per trajectory; the error per frame in
    ``position_mse.csv``, and figures of the error and the particles."""
    dtype = DTYPES[spec.trainer.dtype]
    simulator = load(run_dir, checkpoint=checkpoint, device=device, dtype=dtype)
    # another file (new velocities, shapes, horizons) is evaluated on all of its trajectories
    test_set = build_dataset(spec.data, "all" if data else "test", path=data, dtype=dtype)
    recorded = simulation_settings(test_set.file.config, test_set.dim)
    differ = {
        k: (v, recorded.get(k)) for k, v in simulator.settings.items() if recorded.get(k) != v
    }
    if differ:
        raise DataFileError(
            test_set.path,
            "simulated with other MPM settings than the training data (setting: trained, this "
            f"file): {differ}; generate it with the training data's grid_n, dt and save_every",
        )
    batch = {k: v.to(device) for k, v in test_set.tensors().items()}
    with torch.no_grad():
        started = time.perf_counter()
        pred = simulator(*[batch[k] for k in STATE_KEYS])
        seconds = time.perf_counter() - started
    target = batch["y"]
    mse = METRICS.get("position_mse")(pred, target).cpu()  # (B, T - 1)
    metrics = {
        "position_mse": float(mse.mean()),
        "position_mse_every5": float(mse[:, 4::5].mean()) if mse.shape[1] >= 5 else math.nan,
        "final_position_mse": float(mse[:, -1].mean()),
        "rollout_frames": float(mse.shape[1]),
        # frames before a rollout blew up (NaN from there on; = rollout_frames if none did)
        "finite_frames": float(torch.isfinite(mse).all(0).long().cumprod(0).sum()),
        "n_trajectories": float(len(test_set)),
        "n_particles": float(target.shape[2]),
        "seconds_per_trajectory": seconds / len(test_set),
    }
    curve = out / "position_mse.csv"  # frame, time (s), MSE averaged over the trajectories
    times = test_set.time[1 : mse.shape[1] + 1].tolist()
    atomic_write_text(
        "frame,time,position_mse\n"
        + "".join(
            f"{k + 1},{t:.6g},{e:.6e}\n"
            for k, (t, e) in enumerate(zip(times, mse.mean(0).tolist()))
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
    json_path, md_path = write_report(
        {"test": metrics}, out, run=_run_notes(run_dir, checkpoint, data)
    )
    return EvaluationReport({"test": metrics}, json_path, md_path, figures)


def _run_notes(run_dir: Path, checkpoint: str, data: str | os.PathLike | None) -> dict[str, str]:
    """What an evaluation report evaluated: the checkpoint, what it was selected on, the data."""
    info = json.loads((run_dir / MODEL_INFO).read_text())
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
    resolutions: Sequence[int] = (),
    out_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    checkpoint: Literal["best", "last"] = "best",
) -> EvaluationReport:
    """Evaluate a trained run (its ``checkpoint``) on its test split (and zero-shot at other
    resolutions).

    Writes ``metrics.json``, ``metrics.md`` and figures into ``out_dir`` (default
    ``run_dir/eval``).
    """
    run_dir = Path(run_dir)
    spec = _run_spec(run_dir)
    try:
        resolve_device(device)
    except ValueError as err:
        raise SpecError(f"--device: {err}") from None
    out = Path(out_dir) if out_dir is not None else run_dir / "eval"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the evaluation folder: {exc}") from None
    if spec.data.kind == PARTICLE_KIND:
        return _evaluate_learned_simulator(spec, run_dir, data, out, device, checkpoint)
    dtype = DTYPES[spec.trainer.dtype]
    surrogate = load(run_dir, checkpoint=checkpoint, device=device, dtype=dtype)
    names = list(dict.fromkeys(["relative_l2", *spec.evaluation.metrics]))
    batch = spec.trainer.batch_size
    sections: dict[str, dict[str, Any]] = {}
    figures: list[Path] = []

    test_set = build_dataset(spec.data, "test", path=data, dtype=dtype)
    requested = list(resolutions or spec.evaluation.resolutions)
    runs: list[tuple[str, Any]] = [("test", test_set)]
    for res in requested:
        sub = _subsample_for(test_set.file, res)
        if sub == spec.data.subsample and data is None:
            continue
        if not surrogate.model.resolution_invariant:
            sections[f"test@{res}"] = {"skipped": "model is not resolution invariant"}
            continue
        runs.append(
            (f"test@{res}", build_dataset(spec.data, "test", path=data, subsample=sub, dtype=dtype))
        )

    for label, dataset in runs:
        model = surrogate.model
        if label != "test" and surrogate.needs_coords:
            raise SpecError(f"{label}: a model with fixed sensors cannot change resolution")
        result = predict(model, dataset, batch_size=batch, device=device, dtype=dtype)
        metrics = compute_metrics(result["pred"], result["target"], names)
        metrics["n_samples"] = float(len(dataset))
        metrics["resolution"] = float(result["pred"].shape[-1])
        metrics["seconds_per_sample"] = time_inference(
            model, dataset, batch_size=batch, device=device, dtype=dtype
        )
        sections[label] = metrics
        n_plot = min(spec.evaluation.n_plot_samples, len(dataset))
        if spec.evaluation.plots and n_plot and result["pred"].dim() in (3, 4):
            coords = result.get("coords")
            figures.append(
                plot_samples(
                    result["pred"][:n_plot].numpy(),
                    result["target"][:n_plot].numpy(),
                    out / f"samples_{label.replace('@', '_')}.png",
                    coords=coords.numpy() if coords is not None else None,
                    title=f"{spec.name}: {label}",
                )
            )
    if spec.evaluation.rollout_steps and spec.data.kind == "time_window":
        summary, fig = _rollout_section(
            surrogate, test_set, spec.evaluation.rollout_steps, out, dtype
        )
        sections["test"].update(summary)
        figures.append(fig)
    json_path, md_path = write_report(sections, out, run=_run_notes(run_dir, checkpoint, data))
    return EvaluationReport(sections, json_path, md_path, figures)
