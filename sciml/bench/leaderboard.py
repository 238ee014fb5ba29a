"""The leaderboard of a bench: cell records → one row per benchmark × model, markdown + JSON.

A row is *ranked* when every selected seed of it finished with status ``ok``; its numbers are
the mean (± the standard deviation over seeds, with more than one) of the cells'. Rows are
ranked per benchmark by the relative L2 error on the test split,
:math:`\\|\\hat u - u\\|_2 / \\|u\\|_2` averaged over the test samples
(:func:`sciml.evaluation.metrics.relative_l2`), of the checkpoint selected on the validation
split. Families that were skipped (with the task's or the constructor's reason), diverged or
failed are listed under their benchmark, never dropped.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciml.atomic import atomic_write_text
from sciml.bench.plots import plot_error_vs, plot_zero_shot
from sciml.bench.profile import Profile

#: the metric rows are ranked by
PRIMARY = "relative_l2"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def aggregate(records: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (benchmark, model), in the order of the records; ranked rows hold
    ``{name: [mean, std]}`` for ``metrics``, the parameter count, steps, training seconds and
    the zero-shot relative L2 per resolution (or the reason it was not evaluated)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["benchmark"], r["model"]), []).append(r)
    rows = []
    for (benchmark, model), cells in groups.items():
        row: dict[str, Any] = {
            "benchmark": benchmark,
            "model": model,
            "seeds": [c["seed"] for c in cells],
        }
        bad = [c for c in cells if c["status"] != "ok"]
        if bad:
            first = bad[0]
            seeds = "" if len(bad) == len(cells) else f" (seed {first['seed']})"
            row.update(status=first["status"], reason=f"{first.get('reason', '')}{seeds}")
            rows.append(row)
            continue
        row["status"] = "ok"
        row["n_parameters"] = cells[0]["n_parameters"]
        row["steps"] = _mean_std([c["steps"] for c in cells])
        row["train_seconds"] = _mean_std([c["train_seconds"] for c in cells])
        row["resolution"] = cells[0]["metrics"].get("resolution")
        for name in metrics:
            values = [c["metrics"][name] for c in cells if name in c["metrics"]]
            if len(values) == len(cells):
                row[name] = _mean_std(values)
        zero_shot: dict[str, Any] = {}
        for res in cells[0].get("zero_shot", {}):
            sections = [c["zero_shot"][res] for c in cells]
            if all(PRIMARY in s for s in sections):
                zero_shot[res] = _mean_std([s[PRIMARY] for s in sections])
            else:
                zero_shot[res] = next(s.get("skipped", "not evaluated") for s in sections)
        row["zero_shot"] = zero_shot
        rows.append(row)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        mean, std = value
        if not math.isfinite(mean):
            return str(mean)
        return f"{mean:.3g} ± {std:.1g}" if std else f"{mean:.3g}"
    return "–" if value is None else str(value)


def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def markdown(rows: Sequence[dict[str, Any]], profile: Profile, metrics: Sequence[str]) -> str:
    """The leaderboard as markdown: one ranked table per benchmark and the families that were
    not ranked, with their reasons."""
    seeds = sorted({s for r in rows for s in r["seeds"]})
    nowhere = _skipped_everywhere(rows)
    lines = [
        f"# Leaderboard: profile `{profile.name}`",
        "",
        f"Budget: {profile.budget.describe()}; seeds {seeds}; every family with the same "
        "optimizer, schedule and batch size; `best.pt` selected on the validation split, "
        "metrics on the test split (mean ± std over seeds when there are several).",
    ]
    for name, bench in profile.benchmarks.items():
        bench_rows = [r for r in rows if r["benchmark"] == name]
        if not bench_rows:
            continue
        ranked = sorted(
            (r for r in bench_rows if r["status"] == "ok"),
            key=lambda r: r.get(PRIMARY, (math.inf, 0))[0],
        )
        resolutions = list(bench.zero_shot)
        lines += ["", f"## {name}", ""]
        if bench.description:
            lines += [bench.description, ""]
        header = ["#", "model", *metrics]
        header += [f"{PRIMARY} @{res} (zero-shot)" for res in resolutions]
        header += ["parameters", "train s", "steps"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i, r in enumerate(ranked, 1):
            cells = [str(i), f"`{r['model']}`", *(_fmt(r.get(m)) for m in metrics)]
            for res in resolutions:
                z = r["zero_shot"].get(str(res))
                cells.append(_fmt(z) if isinstance(z, (list, tuple)) else "–")
            cells += [
                f"{r['n_parameters']:,}",
                f"{r['train_seconds'][0]:.1f}",
                f"{r['steps'][0]:.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if resolutions:
            where = sorted({r["resolution"] for r in ranked if r.get("resolution")})
            trained = ", ".join(f"{w:g}" for w in where) or "?"
            lines += [
                "",
                f"Trained at {trained} points per axis; zero-shot: the same test trajectories "
                "on the finer grid, without retraining (–: the model is not resolution "
                "invariant).",
            ]
        others = [r for r in bench_rows if r["status"] != "ok" and r["model"] not in nowhere]
        if others:
            lines += ["", "Not ranked:", ""]
            lines += [f"- `{r['model']}` {r['status']}: {_one_line(r['reason'])}" for r in others]
    if nowhere:
        lines += ["", "## Families skipped on every benchmark", ""]
        for model, reasons in nowhere.items():
            lines.append(f"- `{model}`: " + " / ".join(_one_line(r) for r in reasons))
    return "\n".join(lines) + "\n"


def _skipped_everywhere(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Families skipped on every benchmark they were tried on → their distinct reasons (listed
    once under the tables instead of under every benchmark)."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    return {
        model: list(dict.fromkeys(r["reason"] for r in model_rows))
        for model, model_rows in by_model.items()
        if all(r["status"] == "skipped" for r in model_rows)
    }


def write_leaderboard(
    records: Sequence[dict[str, Any]], profile: Profile, out: Path
) -> tuple[Path, Path, list[Path]]:
    """``leaderboard.md``, ``leaderboard.json`` (rows and every cell record) and the figures
    (error vs parameters, error vs training time, zero-shot resolution) in ``out``."""
    metrics = list(dict.fromkeys([PRIMARY, *profile.evaluation.get("metrics", [])]))
    rows = aggregate(records, metrics)
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / "leaderboard.md", out / "leaderboard.json"
    atomic_write_text(markdown(rows, profile, metrics), md_path)
    document = {
        "profile": profile.name,
        "source": profile.source,
        "budget": profile.budget.model_dump(),
        "metrics": metrics,
        "rows": rows,
        "cells": list(records),
    }
    atomic_write_text(json.dumps(document, indent=2, default=str), json_path)
    figures = []
    ranked = [r for r in rows if r["status"] == "ok"]
    if ranked:
        figures.append(
            plot_error_vs(ranked, "n_parameters", "parameters", out / "error_vs_parameters.png")
        )
        figures.append(
            plot_error_vs(ranked, "train_seconds", "training time (s)", out / "error_vs_time.png")
        )
        zero_shot = plot_zero_shot(ranked, out / "zero_shot.png")
        if zero_shot is not None:
            figures.append(zero_shot)
    return md_path, json_path, figures
