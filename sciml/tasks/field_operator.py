"""Field operator: input fields → output fields on a grid (FNO, DeepONet, MgNO, ...).

Datasets: ``grid_pair`` / ``pdebench_pair`` (one input and one output time of a trajectory) and
``time_window`` / ``pdebench_window`` (``n_input_steps`` frames → the next ones; evaluated also
by an autoregressive rollout), ``space_time`` (inputs at ``t_0`` → the whole trajectory on the
``(t, x)`` grid). Samples ``{"x": (C_in, *S), "y": (C_out, *S), "coords": (d, *S)}``.

The model is wrapped with the normalizers fitted on the training split
(:class:`~sciml.models.normalized.NormalizedModel`: physical units in and out), then with the
spec's ``constraint:`` (in physical units), so the loss, the metrics, ``sciml.load`` and export
all see the constrained physical output. ``sciml.load`` returns a
:class:`~sciml.embed.Surrogate`; a model with ``coords`` among its inputs (DeepONet) gets the
training grid by default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.constraints.wrap import Constrained, build_constrained
from sciml.data.compat import check_model_fits
from sciml.data.format import DatasetFile
from sciml.data.grid import InMemoryDataset
from sciml.embed import Surrogate, example_input
from sciml.evaluation.plots import plot_rollout_error, plot_samples
from sciml.evaluation.runner import (
    autoregressive_rollout,
    batch_to,
    compute_metrics,
    time_inference,
)
from sciml.evaluation.vtu import write_grid_samples
from sciml.models.build import build_normalized_model
from sciml.models.outputs import point_prediction
from sciml.registry import METRICS, TASKS
from sciml.spec import SpecError
from sciml.tasks.base import Task
from sciml.tasks.torchrun import predict  # shared over torchrun ranks when sharded

#: training sets up to this size are stacked into memory once (batched indexing, no collation)
IN_MEMORY_BYTES = 2**30


def _subsample_for(file: DatasetFile, resolution: int) -> int:
    native = file.spatial_shape[0]
    if resolution <= 0 or native % resolution:
        options = sorted({native // k for k in range(1, native + 1) if native % k == 0})
        raise SpecError(
            f"--resolution {resolution}: {file.path} has {native} points per axis; "
            f"available resolutions: {options[-6:]}"
        )
    return native // resolution


@TASKS.register("field_operator")
class FieldOperatorTask(Task):
    """Fields → fields (see the module docstring)."""

    name = "field_operator"
    dataset_kinds = ("grid_pair", "pdebench_pair", "time_window", "pdebench_window", "space_time")
    model_inputs = ("x", "coords")

    def model_keywords(self) -> tuple[str, ...]:
        return ("in_channels", "out_channels", "n_dims")

    def dataset_options(self) -> dict[str, Any]:
        return {"in_memory": True}

    # ----------------------------------------------------------------------------------- model
    def describe(self, train_set: Dataset) -> dict[str, Any]:
        sample = train_set[0]
        x, y = sample["x"], sample["y"]
        constraint = self.spec.constraint
        return {
            "in_channels": int(x.shape[0]),
            "out_channels": int(y.shape[0]),
            "n_dims": int(x.dim() - 1),
            "spatial_shape": [int(s) for s in x.shape[1:]],
            "normalize": self.spec.data.normalize.model_dump(),
            "coords": sample["coords"].tolist() if "coords" in sample else None,
            "constraint": dict(constraint) if constraint else None,
        }

    @classmethod
    def build(cls, info: Mapping[str, Any]) -> nn.Module:
        # the constraint may ask for other output channels (a hard constraint's N basis functions)
        return cls.check_inputs(build_constrained(info, build_normalized_model), info["name"])

    def fit(
        self, model: nn.Module, train_set: Dataset, val_set: Dataset
    ) -> tuple[Dataset, Dataset]:
        """The training set in memory where it fits; the normalizers (and a POD basis) fitted
        on it."""
        sample = train_set[0]
        nbytes = len(train_set) * sum(v.numel() * v.element_size() for v in sample.values())
        if nbytes <= IN_MEMORY_BYTES:
            # batched indexing instead of per-sample collation (most of a small model's step)
            train_set = InMemoryDataset.from_dataset(train_set)
            batches: Any = [train_set.tensors]
        else:
            batches = DataLoader(train_set, batch_size=256, shuffle=False)
        normalized = normalized_part(model)
        normalized.input_normalizer.fit(batches, key="x")
        normalized.output_normalizer.fit(batches, key="y")
        fit_pod = getattr(normalized.model, "fit_pod", None)
        if callable(fit_pod):
            # POD-DeepONet: the trunk is the POD basis of the (normalized) training outputs
            fit_pod(torch.cat([normalized.output_normalizer.encode(b["y"]) for b in batches]))
        return train_set, val_set

    # ------------------------------------------------------------------------------------- use
    @classmethod
    def for_use(cls, model: nn.Module, info: Mapping[str, Any]) -> nn.Module:
        coords = torch.tensor(info["coords"]) if info.get("coords") is not None else None
        return Surrogate(model, dict(info), coords)

    @classmethod
    def example_inputs(cls, loaded: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
        return (example_input(loaded, batch=batch_size),)

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
        names = list(dict.fromkeys(["relative_l2", *spec.evaluation.metrics]))
        batch = spec.trainer.batch_size
        sections: dict[str, dict[str, Any]] = {}
        figures: list[Path] = []
        test_set = self.dataset(split, path=data)
        if data is not None:
            # another file: its fields, dimension and grid must be ones the model can take
            check_model_fits(
                data,
                loaded.info,
                test_set[0],
                resolution_invariant=loaded.model.resolution_invariant and not loaded.needs_coords,
            )
        runs: list[tuple[str, Any]] = [(split, test_set)]
        for res in resolutions or spec.evaluation.resolutions:
            sub = _subsample_for(test_set.file, res)
            if sub == spec.data.subsample and data is None:
                continue
            label = f"{split}@{res}"
            if not loaded.model.resolution_invariant:
                sections[label] = {"skipped": "model is not resolution invariant"}
                continue
            if loaded.needs_coords:
                raise SpecError(f"{label}: a model with fixed sensors cannot change resolution")
            runs.append((label, self.dataset(split, path=data, subsample=sub)))

        for label, dataset in runs:
            model = loaded.model
            result = predict(model, dataset, batch_size=batch, device=device, dtype=self.dtype)
            metrics = compute_metrics(result["pred"], result["target"], names)
            metrics.update(self.extra_metrics(result))
            if isinstance(model, Constrained):
                metrics.update(
                    constraint_metrics(
                        model, dataset, batch_size=batch, device=device, dtype=self.dtype
                    )
                )
            metrics["n_samples"] = float(len(dataset))
            metrics["resolution"] = float(result["pred"].shape[-1])
            metrics["seconds_per_sample"] = time_inference(
                model, dataset, batch_size=batch, device=device, dtype=self.dtype
            )
            sections[label] = metrics
            if vtu and label == split:
                if "coords" not in result:
                    raise SpecError(f"--vtu: the {label} samples carry no grid coordinates")
                write_grid_samples(
                    out / "vtu",
                    result["pred"][:vtu],
                    result["target"][:vtu],
                    result["coords"],
                    scattered=dataset.file.grid_type == "unstructured",
                )
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
        rollout = self.rollouts(loaded, test_set, out, device)
        if rollout is not None:
            summary, fig = rollout
            sections[split].update(summary)
            figures.append(fig)
        return sections, figures

    def rollouts(
        self, loaded: Any, test_set: Any, out: Path, device: str
    ) -> tuple[dict[str, float], Path] | None:
        """The rollout part of the report, from the test trajectories, and its figure; here the
        autoregressive rollout of a time-window model when ``evaluation.rollout_steps`` is set,
        else ``None``."""
        if not (self.spec.evaluation.rollout_steps and hasattr(test_set, "n_input_steps")):
            return None
        return self._rollout_section(loaded, test_set, out, device)

    def extra_metrics(self, result: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Metrics beyond the spec's list computed from ``predict``'s result (default none)."""
        return {}

    def _rollout_section(
        self, surrogate: Any, test_set: Any, out_dir: Path, device: str
    ) -> tuple[dict[str, float], Path]:
        """Autoregressive rollout over the test trajectories: relative L2 error per step."""
        n_in, stride = test_set.n_input_steps, test_set.stride
        available = (len(test_set.time) - 1) // stride - n_in + 1
        n_steps = min(int(self.spec.evaluation.rollout_steps), available)
        times = slice(0, (n_in + n_steps) * stride, stride)
        frames = torch.stack(
            [test_set.trajectory(k, times) for k in range(len(test_set.trajectories))]
        ).to(device=device, dtype=self.dtype)
        extra = {}
        if surrogate.needs_coords:
            coords = test_set.coords.to(frames)
            extra["coords"] = coords.expand(frames.shape[0], *coords.shape)
        model = surrogate.model.to(device=device, dtype=self.dtype)
        with torch.no_grad():
            pred = autoregressive_rollout(
                model, frames[:, :n_in], n_steps, n_input_steps=n_in, extra=extra
            ).cpu()
        frames = frames.cpu()
        errors = METRICS.get("rollout_error")(pred, frames[:, n_in:])
        fig = plot_rollout_error(
            errors.numpy(), out_dir / "rollout_error.png", title="test rollout"
        )
        summary = {
            "rollout_steps": float(n_steps),
            "rollout_relative_l2_final": float(errors[:, -1].mean()),
            "rollout_relative_l2_mean": float(errors.mean()),
        }
        return summary, fig


@torch.no_grad()
def constraint_metrics(
    model: Constrained,
    dataset: Dataset,
    *,
    batch_size: int,
    device: str | torch.device,
    dtype: torch.dtype,
) -> dict[str, float]:
    """What the constraint changes on ``dataset``: the largest ``|defect|`` of its law
    (:meth:`~sciml.constraints.base.Constraint.defect`, in the constrained quantity's units) for
    the constrained output and for the wrapped model's own, and the wrapped model's relative L2
    error (the constrained one is the section's ``relative_l2``). Empty for a constraint that
    states no defect."""
    model = model.to(device=device, dtype=dtype).eval()
    worst = {"constraint_defect_max": 0.0, "unconstrained_defect_max": 0.0}
    raw_preds, targets = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        batch = batch_to(batch, device, dtype)
        inputs = {key: batch[key] for key in model.input_keys}
        raw = model.model(*inputs.values())
        raw_defect = model.constraint.defect(raw, inputs)
        if raw_defect is None:
            return {}
        defect = model.constraint.defect(model.constraint(raw, inputs), inputs)
        for key, value in (
            ("constraint_defect_max", defect),
            ("unconstrained_defect_max", raw_defect),
        ):
            worst[key] = max(worst[key], float(value.abs().max()))
        raw_preds.append(point_prediction(raw).cpu())
        targets.append(batch["y"].cpu())
    raw_l2 = compute_metrics(torch.cat(raw_preds), torch.cat(targets), ["relative_l2"])
    return {**worst, "unconstrained_relative_l2": raw_l2["relative_l2"]}


def normalized_part(model: nn.Module) -> nn.Module:
    """The :class:`NormalizedModel` inside a (possibly constrained) field model."""
    return model.model if isinstance(model, Constrained) else model
