"""Matplotlib figures of evaluation results (written as PNG files, headless).

* 1D fields: prediction and truth as lines, and the pointwise error, one row per sample;
* 2D fields: truth / prediction / |error| panels, one row per sample;
* rollout: relative L2 error against time step (median and 10–90 % band over the test set);
* particles: predicted and true particle positions at a few frames (2D, or the x–z plane in 3D).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: CI, servers, and `make demo` over ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sciml.atomic import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_samples(
    pred: np.ndarray,
    target: np.ndarray,
    path: str | os.PathLike,
    *,
    coords: np.ndarray | None = None,
    channel: int = 0,
    title: str = "",
) -> Path:
    """Figure comparing predictions with targets for a few samples.

    Parameters
    ----------
    pred, target:
        ``(n, C, X)`` or ``(n, C, X, Y)`` arrays in physical units.
    coords:
        ``(d, *S)`` grid coordinates for the axes (1D: ``x``; 2D: extent).
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim not in (3, 4):
        raise ValueError(
            f"expected matching (n, C, X[, Y]) arrays, got {pred.shape}, {target.shape}"
        )
    n = pred.shape[0]
    p, t = pred[:, channel], target[:, channel]
    if pred.ndim == 3:
        x = coords[0] if coords is not None else np.arange(p.shape[-1])
        fig, axes = plt.subplots(n, 2, figsize=(10, 2.4 * n), squeeze=False, layout="constrained")
        for i in range(n):
            axes[i, 0].plot(x, t[i], "k-", lw=1.5, label="truth")
            axes[i, 0].plot(x, p[i], "r--", lw=1.2, label="prediction")
            axes[i, 1].plot(x, p[i] - t[i], "b-", lw=1)
            axes[i, 0].set_ylabel(f"sample {i}")
        axes[0, 0].legend(fontsize=8)
        axes[0, 0].set_title("field")
        axes[0, 1].set_title("prediction − truth")
    else:
        extent = None
        if coords is not None:
            extent = [coords[1].min(), coords[1].max(), coords[0].min(), coords[0].max()]
        fig, axes = plt.subplots(n, 3, figsize=(13, 3.4 * n), squeeze=False, layout="constrained")
        for i in range(n):
            vmin, vmax = float(t[i].min()), float(t[i].max())
            for j, (img, name) in enumerate(
                ((t[i], "truth"), (p[i], "prediction"), (np.abs(p[i] - t[i]), "|error|"))
            ):
                kw = {"vmin": vmin, "vmax": vmax} if j < 2 else {}
                im = axes[i, j].imshow(img, origin="lower", extent=extent, cmap="viridis", **kw)
                fig.colorbar(im, ax=axes[i, j], fraction=0.046)
                axes[i, j].set_title(f"{name} (sample {i})", fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, Path(path))


def plot_rollout_error(
    errors: np.ndarray,
    path: str | os.PathLike,
    *,
    title: str = "",
    ylabel: str = "relative L2 error",
) -> Path:
    """An error against rollout step (median and 10–90 % band over the samples).

    Parameters
    ----------
    errors:
        ``(n_samples, T)`` per-sample, per-step errors (by default relative L2).
    """
    errors = np.asarray(errors)
    steps = np.arange(1, errors.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.fill_between(
        steps, np.quantile(errors, 0.1, 0), np.quantile(errors, 0.9, 0), alpha=0.3, label="10–90 %"
    )
    ax.plot(steps, np.median(errors, 0), "k-", label="median")
    ax.set_xlabel("rollout step")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, Path(path))


def plot_particles(
    pred: np.ndarray,
    target: np.ndarray,
    path: str | os.PathLike,
    *,
    frames: list[int],
    title: str = "",
) -> Path:
    """Truth (black) and prediction (red) particle positions of one trajectory at ``frames``.

    Parameters
    ----------
    pred, target:
        ``(T, P, d)`` positions (m); in 3D the x–z plane (d = 0 and the last axis) is shown.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"expected matching (T, P, d) arrays, got {pred.shape}, {target.shape}")
    axes_idx = (0, pred.shape[-1] - 1)
    fig, axes = plt.subplots(
        1, len(frames), figsize=(3.2 * len(frames), 3.4), squeeze=False, layout="constrained"
    )
    for ax, k in zip(axes[0], frames):
        for pos, style in ((target[k], "k."), (pred[k], "r.")):
            ax.plot(pos[:, axes_idx[0]], pos[:, axes_idx[1]], style, ms=2, alpha=0.7)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"frame {k}", fontsize=9)
    axes[0, 0].legend(["truth", "prediction"], fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    return _save(fig, Path(path))
