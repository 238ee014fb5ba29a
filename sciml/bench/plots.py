"""Leaderboard figures (PNG, headless): test error against model size, against training time,
and against grid size for the zero-shot resolutions; one panel per benchmark, one point (or
line) per model family, error bars = standard deviation over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: CI and servers
import matplotlib.pyplot as plt  # noqa: E402

from sciml.atomic import atomic_path  # noqa: E402

PRIMARY = "relative_l2"


def _panels(benchmarks: Sequence[str]) -> tuple[plt.Figure, list[plt.Axes]]:
    n = len(benchmarks)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig: plt.Figure, path: Path) -> Path:
    try:
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_error_vs(rows: Sequence[dict[str, Any]], key: str, label: str, path: Path) -> Path:
    """Test relative L2 (log) against ``row[key]`` (log; a number or ``[mean, std]``)."""
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    fig, axes = _panels(benchmarks)
    for ax, name in zip(axes, benchmarks):
        for r in (r for r in rows if r["benchmark"] == name and PRIMARY in r):
            x = r[key][0] if isinstance(r[key], (list, tuple)) else r[key]
            mean, std = r[PRIMARY]
            ax.errorbar([x], [mean], yerr=[std] if std else None, fmt="o", capsize=3)
            ax.annotate(
                r["model"], (x, mean), textcoords="offset points", xytext=(4, 4), fontsize=8
            )
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="test relative L2", title=name)
        ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_zero_shot(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Test relative L2 against the grid size: the training resolution and every zero-shot
    one, a line per model that was evaluated zero-shot; ``None`` when no benchmark has a
    zero-shot resolution."""
    with_zero_shot = [r for r in rows if r.get("zero_shot")]
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in with_zero_shot))
    if not benchmarks:
        return None
    fig, axes = _panels(benchmarks)
    for ax, name in zip(axes, benchmarks):
        for r in (r for r in with_zero_shot if r["benchmark"] == name):
            points = [(float(r["resolution"]), *r[PRIMARY])]
            points += [
                (float(res), *value)
                for res, value in r["zero_shot"].items()
                if isinstance(value, (list, tuple))
            ]
            if len(points) < 2:
                continue  # not resolution invariant: nothing to draw
            points.sort()
            xs, means, stds = zip(*points)
            ax.errorbar(xs, means, yerr=stds if any(stds) else None, marker="o", label=r["model"])
        ax.set(yscale="log", xlabel="points per axis", ylabel="test relative L2", title=name)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _save(fig, path)
