"""Shared fixtures: a tiny generated dataset and a tiny trained run, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("DDE_BACKEND", "pytorch")
# Tests run as `pytest -n 2` on 2 cores: one intra-op thread per worker avoids oversubscription,
# which makes small tensor ops tens of times slower.
torch.set_num_threads(1)

TINY_SPEC = """\
name: tiny
seed: 0
data:
  dataset: poisson2d
  path: {data}
  inputs: [f]
  outputs: [u]
  n_train: 16
  n_test: 8
  subsample: 2
model:
  name: fno
  n_modes: [4, 4]
  hidden_channels: 8
  n_layers: 2
trainer:
  epochs: 3
  batch_size: 8
  eval_every: 2
  checkpoint_every: 2
  progress: false
evaluation:
  metrics: [relative_l2, nrmse, max_error]
  resolutions: [16]
  n_plot_samples: 2
"""


@pytest.fixture(scope="session")
def poisson_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-sample, 16×16 periodic Poisson dataset."""
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("data") / "poisson2d.h5"
    generate(
        "poisson2d",
        path,
        {"n_samples": 24, "resolution": 16, "batch_size": 24},
        progress=False,
    )
    return path


@pytest.fixture(scope="session")
def tiny_spec_file(tmp_path_factory: pytest.TempPathFactory, poisson_file: Path) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(TINY_SPEC.format(data=poisson_file))
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_spec_file: Path) -> Path:
    """A trained (3 epochs) tiny FNO run directory."""
    import sciml

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    sciml.train(sciml.load_spec(tiny_spec_file), run_dir, progress=False)
    return run_dir
