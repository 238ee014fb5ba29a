"""What the diffusion–sorption diagnostics of this folder share: a trained hard-constrained run's
dataset split and its network / constraint layer, in float64."""

from __future__ import annotations

from pathlib import Path

import torch

import sciml
from sciml.data.space_time import SpaceTimeDataset
from sciml.spec import load_spec


def run_dataset(run: str | Path, split: str, path: str | None = None) -> SpaceTimeDataset:
    """``split`` (``"train"``, ``"val"`` or ``"test"``) of the run's data file (``path`` overrides
    the spec's ``data.path``), split as in training, in float64."""
    data = load_spec(Path(run) / "spec.yaml").data
    return SpaceTimeDataset(
        path or data.path,
        data.inputs,
        data.outputs,
        split=split,
        n_test=data.n_test,
        n_val=data.n_val,
        dtype=torch.float64,
    )


def load_constrained(run: str | Path, checkpoint: str) -> torch.nn.Module:
    """The hard-constrained model of the run's ``checkpoint`` (``"best"`` or ``"last"``), in
    float64: its ``.model`` is the network, its ``.constraint`` the constraint layer."""
    surrogate = sciml.load(run, checkpoint=checkpoint, dtype=torch.float64)
    return next(surrogate.children())
