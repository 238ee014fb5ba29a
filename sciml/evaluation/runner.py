"""Evaluate a trained model on a dataset: predictions, metrics, timing, autoregressive rollouts.

Everything here takes a plain ``nn.Module`` following the sciml model interface (``input_keys``;
physical fields in and out, e.g. a :class:`~sciml.models.normalized.NormalizedModel`) and a torch
``Dataset`` of sample dicts, so it knows nothing of specs, run directories or the CLI.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sciml.atomic import atomic_write_text
from sciml.models.outputs import is_gaussian, point_prediction, with_absent_channels
from sciml.registry import METRICS


def _call(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    keys = getattr(model, "input_keys", ("x",))
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ValueError(
            f"the model needs batch entries {list(keys)} but the dataset provides {sorted(batch)}"
        )
    return model(*[batch[k] for k in keys])


def batch_to(
    batch: dict[str, torch.Tensor], device: str | torch.device, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """``batch`` on ``device``, its floating-point entries in ``dtype`` (indices keep theirs)."""
    return {
        k: v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device)
        for k, v in batch.items()
    }


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Run ``model`` over ``dataset``.

    Returns
    -------
    dict
        ``pred`` and ``target``: ``(N, C_out, *S)`` on the CPU (``pred`` the mean of a
        probabilistic model, whose variance is ``var``; equal to ``target`` in the channels a
        sample's ``channel_mask`` excludes); ``coords``: ``(d, *S)`` of the first
        sample (or absent).
    """
    model = model.to(device=device, dtype=dtype).eval()
    preds, variances, targets, coords = [], [], [], None
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        batch = batch_to(batch, device, dtype)
        output = _call(model, batch)
        if "channel_mask" in batch:  # a mixed-family dataset: absent channels add no error
            output = with_absent_channels(output, batch["y"], batch["channel_mask"])
        if is_gaussian(output):
            variances.append(output[1].cpu())
        preds.append(point_prediction(output).cpu())
        targets.append(batch["y"].cpu())
        if coords is None and "coords" in batch:
            coords = batch["coords"][0].cpu()
    out = {"pred": torch.cat(preds), "target": torch.cat(targets)}
    if variances:
        out["var"] = torch.cat(variances)
    if coords is not None:
        out["coords"] = coords
    return out


def compute_metrics(
    pred: torch.Tensor, target: torch.Tensor, names: Sequence[str]
) -> dict[str, float]:
    """Mean over samples of each registered metric (``frmse`` expands to its three bands)."""
    results: dict[str, float] = {}
    for name in names:
        value = METRICS.get(name)(pred, target)
        if isinstance(value, dict):
            for band, v in value.items():
                results[f"{name}_{band}"] = float(torch.as_tensor(v).double().mean())
        else:
            results[name] = float(torch.as_tensor(value).double().mean())
    return results


@torch.no_grad()
def time_inference(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    repeats: int = 5,
) -> float:
    """Median wall-clock seconds per sample of a forward pass on one batch (after a warm-up)."""
    batch = next(iter(DataLoader(dataset, batch_size=batch_size, shuffle=False)))
    batch = {k: v.to(device=device, dtype=dtype) for k, v in batch.items() if v.is_floating_point()}
    model = model.to(device=device, dtype=dtype).eval()
    n = next(iter(batch.values())).shape[0]
    _call(model, batch)  # warm-up (allocations, lazy init)
    times = []
    for _ in range(repeats):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        _call(model, batch)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / n)
    return sorted(times)[len(times) // 2]


@torch.no_grad()
def autoregressive_rollout(
    model: nn.Module,
    initial: torch.Tensor,
    n_steps: int,
    *,
    n_input_steps: int = 1,
    extra: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Feed the model its own predictions.

    Parameters
    ----------
    initial:
        ``(B, n_input_steps, C, *S)`` the first frames (physical units).
    n_steps:
        Number of predicted frames.
    extra:
        Other batch entries the model needs (e.g. ``coords``), passed unchanged at every step.

    Returns
    -------
    Tensor
        ``(B, n_steps, C, *S)``; the model maps ``(B, n_in·C, *S)`` to ``(B, n_out·C, *S)`` and
        only the first predicted frame of each call is kept (stride one frame).
    """
    b, n_in, c = initial.shape[:3]
    if n_in != n_input_steps:
        raise ValueError(f"initial has {n_in} frames, the model takes {n_input_steps}")
    window = initial
    frames = []
    for _ in range(n_steps):
        batch = {"x": window.reshape(b, n_in * c, *initial.shape[3:]), **(extra or {})}
        nxt = point_prediction(_call(model, batch))[:, :c]
        frames.append(nxt)
        window = torch.cat([window[:, 1:], nxt.unsqueeze(1)], dim=1)
    return torch.stack(frames, dim=1)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def write_report(
    report: dict[str, Any], out_dir: str | os.PathLike, *, run: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Write ``metrics.json`` and a markdown table ``metrics.md`` (atomically).

    ``report`` maps a section name (e.g. ``"test"``, ``"test@128"``) to a dict of scalar metrics.
    ``run`` describes what was evaluated (checkpoint, the split it was selected on, ...): stored
    as ``metrics.json["run"]`` and listed under the table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "metrics.json", out / "metrics.md"
    names: list[str] = []
    for section in report.values():
        names += [k for k in section if k not in names and isinstance(section[k], (int, float))]
    lines = ["| split | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for split, section in report.items():
        cells = [
            f"{section[n]:.4g}" if isinstance(section.get(n), (int, float)) else "" for n in names
        ]
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    skipped = [
        f"- {split}: skipped ({s['skipped']})" for split, s in report.items() if "skipped" in s
    ]
    if run or skipped:
        lines += ["", *skipped, *(f"- {key}: {value}" for key, value in (run or {}).items())]
    document = {**_finite(report), **({"run": dict(run)} if run else {})}
    atomic_write_text(json.dumps(document, indent=2), json_path)
    atomic_write_text("\n".join(lines) + "\n", md_path)
    return json_path, md_path
