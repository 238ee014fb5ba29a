"""Point-set process: a neural process on context/target point sets, evaluated on the full grid.

ProbConserv's backbone (Hansen et al., ICML 2023, arXiv 2302.11002): an attentive neural process
(``anp``) sees a function of ``(t, x)`` through a context set and predicts a Gaussian at target
points. Data: dataset kind ``space_time_points`` (:mod:`sciml.data.point_sets`), the sets drawn
from the trajectories of a grid file (among its grid points, or with ``data.options.sampling:
continuous`` in the domain, valued by the file's closed form, as the paper). The model is wrapped by :class:`PointSetModel`, which maps
the points to the unit box of the data's grid (the bounds are in ``model.json``) and

* in **training** mode sees the target values ``y`` and returns the ELBO's parts
  (:class:`~sciml.models.anp.ELBOOutput`, ``trainer.loss: neural_process_elbo``);
* in **evaluation** mode (validation, ``sciml.load``) returns the predictive
  ``GaussianOutput(mean, var)`` ``(B, N_t, C)`` at the target points, in physical units. Its
  latent draws come from a generator seeded with the run's ``seed`` at every call (unless one is
  given), so the validation loss is a deterministic function of the weights: the same draws
  score every checkpoint, the same seed gives the same metric in every run, and validating does
  not advance the global random stream that training draws from.

Evaluation predicts every ``(t, x)`` point of the test functions' grid from their context sets and
applies the spec's ``constraint:`` post hoc to the ``(B, C, T, *S)`` fields (the model never saw
it), e.g. ProbConserv's per-time-slice conservation update with ``problem:`` and
``parameter_key:`` naming the per-function scalar the dataset carries (``data.inputs``). The
report gives the point metrics, log-likelihood and calibration error of the constrained grid
prediction and the ANP's own (``unconstrained_*``), with the largest conservation defect of both.
``sciml.load`` returns the :class:`PointSetModel`: ``model(context_x, context_y, target_x)``, and
:meth:`PointSetModel.predict_grid` / :meth:`PointSetModel.constrain` for the grid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.constraints.base import Constraint
from sciml.constraints.wrap import build_constraint
from sciml.data.grid import InMemoryDataset
from sciml.evaluation.plots import plot_samples
from sciml.evaluation.runner import batch_to, compute_metrics
from sciml.models.outputs import GaussianOutput
from sciml.registry import MODELS, TASKS
from sciml.spec import SpecError
from sciml.tasks.base import Task
from sciml.tasks.probabilistic_field import gaussian_metrics
from sciml.training.loss_terms import LossTerms
from sciml.training.neural_process import NeuralProcessELBO

__all__ = ["PointSetModel", "PointSetProcessTask"]


class PointSetModel(nn.Module):
    r"""A neural process in physical units, with the conservation constraint for grid output.

    Points :math:`p = (t, x, \dots)` are mapped to the unit box of the data's grid,
    :math:`(p - p_{lo}) / (p_{hi} - p_{lo})`, before the wrapped model sees them; values are
    passed in physical units.

    Parameters
    ----------
    model:
        A neural process with ``forward(context_x, context_y, target_x, *, generator) ->
        (mean, var)`` and ``elbo(context_x, context_y, target_x, target_y)``
        (:class:`~sciml.models.anp.ANP`).
    bounds:
        ``[[lo, hi], ...]`` per point coordinate ``(t, x, ...)``.
    constraint:
        Applied by :meth:`constrain` to grid predictions (``None``: none).
    draw_seed:
        Seed of the latent draws of each evaluation-mode call without a ``generator`` (``None``:
        the global random stream).
    """

    input_keys = ("context_x", "context_y", "target_x", "y")

    def __init__(
        self,
        model: nn.Module,
        bounds: list[list[float]],
        constraint: Constraint | None = None,
        draw_seed: int | None = None,
    ) -> None:
        super().__init__()
        box = torch.as_tensor(bounds, dtype=torch.float64)
        if box.ndim != 2 or box.shape[1] != 2 or not bool((box[:, 1] > box[:, 0]).all()):
            raise ValueError(
                f"point_set_process: bounds must be [[lo, hi], ...] with hi > lo, got {bounds!r}"
            )
        self.model = model
        self.constraint = constraint
        self.draw_seed = draw_seed
        self.register_buffer("low", box[:, 0].clone())
        self.register_buffer("span", box[:, 1] - box[:, 0])

    def scale(self, points: torch.Tensor) -> torch.Tensor:
        """Points ``(..., 1 + d)`` in physical units → the unit box."""
        if points.shape[-1] != self.low.numel():
            raise ValueError(
                f"point_set_process: points need {self.low.numel()} coordinates (t, x, ...) on "
                f"their last axis, got shape {tuple(points.shape)}"
            )
        return (points - self.low.to(points)) / self.span.to(points)

    def forward(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        target_x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Any:
        """Training mode with ``y``: the ELBO's parts; otherwise the predictive
        ``GaussianOutput`` ``(B, N_t, C)`` (``y`` unused), its latents drawn from ``generator``,
        else (evaluation mode) from one seeded with ``draw_seed`` for this call."""
        cx, tx = self.scale(context_x), self.scale(target_x)
        if self.training and y is not None:
            return self.model.elbo(cx, context_y, tx, y)
        if generator is None and not self.training and self.draw_seed is not None:
            generator = torch.Generator(device=cx.device).manual_seed(self.draw_seed)
        return self.model(cx, context_y, tx, generator=generator)

    def predict_grid(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        coords: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> GaussianOutput:
        """The predictive Gaussian on every point of a grid: ``coords`` ``(B, 1 + d, T, *S)``
        (or one grid ``(1 + d, T, *S)`` for all) → fields ``(B, C, T, *S)``, unconstrained
        (latents as in :meth:`forward`)."""
        coords = self._batched(coords, context_x.shape[0])
        points = coords.flatten(2).transpose(1, 2)  # (B, T·N_s, 1 + d), t-major
        mean, var = self(context_x, context_y, points, generator=generator)
        return GaussianOutput(*(grid_fields(v, coords) for v in (mean, var)))

    def constrain(
        self,
        output: GaussianOutput,
        coords: torch.Tensor,
        conditions: Mapping[str, torch.Tensor],
        constraint: Constraint | None = None,
    ) -> GaussianOutput:
        """``constraint`` (default the run's) applied to grid fields ``output`` ``(B, C, T, *S)``
        in float64, with the batch ``{"coords": (B, 1 + d, T, *S), "t": (B, 1, T),
        **conditions}`` (``conditions``: e.g. the PDE parameter ``(B,)`` a conservation target
        needs)."""
        constraint = constraint if constraint is not None else self.constraint
        if constraint is None:
            raise ValueError(
                "point_set_process: this run has no constraint; give one (e.g. "
                "ProbConserv('hardc', problem='stefan'))"
            )
        mean, var = (v.to(torch.float64) for v in output)
        grid = self.grid_batch(coords, conditions, mean.shape[0])
        return constraint(GaussianOutput(mean, var), grid)

    def grid_batch(
        self, coords: torch.Tensor, conditions: Mapping[str, torch.Tensor], n: int
    ) -> dict[str, torch.Tensor]:
        """What a constraint sees of ``n`` grid fields: ``coords`` ``(n, 1 + d, T, *S)`` and
        ``t`` ``(n, 1, T)`` in float64, and the ``conditions``."""
        coords = self._batched(coords, n).to(torch.float64)
        t = coords[:, 0].flatten(2)[..., 0].unsqueeze(1)  # (B, 1, T): t is constant in space
        return {"coords": coords, "t": t, **conditions}

    def _batched(self, coords: torch.Tensor, batch: int) -> torch.Tensor:
        if coords.ndim == self.low.numel() + 1:
            coords = coords.expand(batch, *coords.shape)
        if coords.ndim != self.low.numel() + 2 or coords.shape[1] != self.low.numel():
            raise ValueError(
                f"point_set_process: coords must be (B, {self.low.numel()}, T, *S) or "
                f"({self.low.numel()}, T, *S), got {tuple(coords.shape)}"
            )
        return coords


def grid_fields(values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Values ``(B, T·N_s, C)`` at the t-major points of ``coords`` ``(B, 1 + d, T, *S)`` →
    fields ``(B, C, T, *S)``."""
    return values.transpose(1, 2).reshape(values.shape[0], values.shape[-1], *coords.shape[2:])


@TASKS.register("point_set_process")
class PointSetProcessTask(Task):
    """Context/target point sets → a Gaussian at the targets (see the module docstring)."""

    name = "point_set_process"
    dataset_kinds = ("space_time_points",)
    model_inputs = ("context_x", "context_y", "target_x", "y")

    def model_keywords(self) -> tuple[str, ...]:
        return ("dim_x", "dim_y")

    def dataset_options(self) -> dict[str, Any]:
        return {"in_memory": True, "seed": self.spec.seed}

    def open_dataset(self, cls: Any, file: Path, options: dict[str, Any]) -> Dataset:
        if self.spec.data.kind not in self.dataset_kinds:
            raise SpecError(
                f"data.kind: task {self.name!r} trains on context/target point sets; use "
                f"kind {self.dataset_kinds[0]!r}, got {self.spec.data.kind!r}"
            )
        return super().open_dataset(cls, file, options)

    # ----------------------------------------------------------------------------------- model
    def describe(self, train_set: Dataset) -> dict[str, Any]:
        sample = train_set[0]
        constraint = self.spec.constraint
        if constraint is not None and constraint.get("in_training", False) is not False:
            raise SpecError(
                f"constraint.in_training: task {self.name!r} applies the constraint post hoc on "
                "the evaluation grid (training targets are scattered points, not time slices); "
                "set in_training: false"
            )
        coords = train_set.space_time_coords  # (1 + d, T, *S)
        bounds = [[float(c.min()), float(c.max())] for c in coords.flatten(1)]
        return {
            "dim_x": int(sample["context_x"].shape[-1]),
            "dim_y": int(sample["context_y"].shape[-1]),
            "bounds": bounds,
            "constraint": dict(constraint) if constraint else None,
            "draw_seed": self.spec.seed,
        }

    @classmethod
    def build(cls, info: Mapping[str, Any]) -> nn.Module:
        ctor = MODELS.get(info["name"])
        model = cls.check_inputs(
            ctor(dim_x=info["dim_x"], dim_y=info["dim_y"], **info["kwargs"]), info["name"]
        )
        if not callable(getattr(model, "elbo", None)):
            raise ValueError(
                f"task {cls.name!r} trains a neural process on its ELBO; model "
                f"{info['name']!r} has no elbo() (use anp)"
            )
        spec = info.get("constraint")
        constraint = build_constraint(spec, info) if spec else None
        # runs from before draw_seed validated on the global random stream
        return PointSetModel(model, info["bounds"], constraint, info.get("draw_seed"))

    def fit(
        self, model: nn.Module, train_set: Dataset, val_set: Dataset
    ) -> tuple[Dataset, Dataset]:
        """The training point sets stacked in memory (batched indexing)."""
        return InMemoryDataset.from_dataset(train_set), val_set

    def loss(self) -> LossTerms:
        loss = super().loss()
        if not any(isinstance(term, NeuralProcessELBO) for term in loss.terms):
            raise SpecError(
                f"trainer.loss: task {self.name!r} trains on the evidence lower bound; set "
                f"`loss: neural_process_elbo` (got {loss.names})"
            )
        return loss

    @classmethod
    def example_inputs(cls, loaded: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
        raise ValueError(
            f"runs of the {cls.name!r} task are not exported: a prediction averages random "
            "latent draws over a context set; use sciml.load in Python"
        )

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
        if vtu:
            raise SpecError(
                f"--vtu: the {self.name!r} task predicts values at space-time points, which are "
                "not written as ParaView files; leave --vtu out"
            )
        test_set = self.dataset(split, path=data)
        if test_set.targets != "grid":
            raise SpecError(
                f"data.options.targets: evaluation predicts every grid point; got "
                f"{test_set.targets!r} (leave it unset, or set 'grid')"
            )
        model = loaded.to(device=device, dtype=self.dtype).eval()
        # one stream of latent draws over the batches
        generator = torch.Generator(device=device).manual_seed(spec.seed)
        parts: dict[str, list[torch.Tensor]] = {}
        with torch.no_grad():
            for raw_batch in DataLoader(test_set, batch_size=spec.trainer.batch_size):
                batch = batch_to(raw_batch, device, self.dtype)
                coords = batch["coords"]
                raw = model.predict_grid(
                    batch["context_x"], batch["context_y"], coords, generator=generator
                )
                outputs = {"raw": raw, "target": grid_fields(batch["y"], coords)}
                if model.constraint is not None:
                    conditions = {k: batch[k] for k in spec.data.inputs}
                    constrained = model.constrain(raw, coords, conditions)
                    grid = model.grid_batch(coords, conditions, coords.shape[0])
                    outputs["defect"] = model.constraint.defect(constrained, grid)
                    outputs["raw_defect"] = model.constraint.defect(raw, grid)
                    outputs["constrained"] = constrained
                for key, value in outputs.items():
                    items = value if isinstance(value, tuple) else (value,)
                    for i, item in enumerate(items):
                        parts.setdefault(f"{key}{i}", []).append(item.double().cpu())
        cat = {key: torch.cat(values) for key, values in parts.items()}
        target = cat["target0"]
        names = list(dict.fromkeys(["relative_l2", *spec.evaluation.metrics]))

        def report(prefix: str, key: str) -> dict[str, float]:
            mean, var = cat[f"{key}0"], cat[f"{key}1"]
            metrics = {
                **compute_metrics(mean, target, names),
                "mse": float((mean - target).square().mean()),
                **gaussian_metrics((mean, var), target),
            }
            return {f"{prefix}{name}": value for name, value in metrics.items()}

        constrained = "constrained0" in cat
        metrics = report("", "constrained" if constrained else "raw")
        if constrained:
            metrics.update(report("unconstrained_", "raw"))
            metrics["constraint_defect_max"] = float(cat["defect0"].abs().max())
            metrics["unconstrained_defect_max"] = float(cat["raw_defect0"].abs().max())
        metrics["n_samples"] = float(len(test_set))
        metrics["n_points"] = float(target[0, 0].numel())
        sections: dict[str, dict[str, Any]] = {split: metrics}
        for res in resolutions or spec.evaluation.resolutions:
            sections[f"{split}@{res}"] = {
                "skipped": "a point-set process is evaluated on the grid of its data file; "
                "pass --data with another grid instead"
            }
        figures: list[Path] = []
        n_plot = min(spec.evaluation.n_plot_samples, len(test_set))
        if spec.evaluation.plots and n_plot:
            key = "constrained0" if constrained else "raw0"
            figures.append(
                plot_samples(
                    cat[key][:n_plot].numpy(),
                    target[:n_plot].numpy(),
                    out / f"samples_{split}.png",
                    title=f"{spec.name}: {split} (t, x) grid",
                )
            )
        return sections, figures
