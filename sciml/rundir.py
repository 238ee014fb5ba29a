"""The run directory: the one place that knows its layout.

::

    runs/<name>/
        spec.yaml            the resolved spec (presets and --set overrides applied)
        model.json           how to rebuild the model: task, name, keywords, channels, grid, ...
        data_identity.json   what ``--resume`` checks the data file against
        metrics.csv          training curve;   tensorboard/   the same for TensorBoard
        checkpoints/         last.pt, best.pt, step_<N>.pt (written atomically by the Trainer)
        eval/                metrics.json, metrics.md, figures (``sciml evaluate``)
        surrogate.pt2        ``sciml export`` (or .ts)

Every file in it is written through :mod:`sciml.atomic`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SPEC = "spec.yaml"
MODEL_INFO = "model.json"
DATA_IDENTITY = "data_identity.json"
METRICS_CSV = "metrics.csv"
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
EVAL = "eval"


class RunDirError(ValueError):
    """A run directory that is missing, incomplete or not from sciml."""


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created or read)."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def spec(self) -> Path:
        return self.path / SPEC

    @property
    def model_info(self) -> Path:
        return self.path / MODEL_INFO

    @property
    def data_identity(self) -> Path:
        return self.path / DATA_IDENTITY

    @property
    def metrics_csv(self) -> Path:
        return self.path / METRICS_CSV

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def checkpoint(self, name: str) -> Path:
        """``checkpoints/<name>.pt`` (``best``, ``last``, ``step_<N>``)."""
        return self.checkpoints / f"{name}.pt"

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL

    def export_file(self, suffix: str) -> Path:
        """Default ``sciml export`` output, ``surrogate<suffix>``."""
        return self.path / f"surrogate{suffix}"
