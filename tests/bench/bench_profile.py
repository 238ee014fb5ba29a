"""The tiny bench profile the bench tests share: one 2D Poisson benchmark (16 samples on 16²,
trained at 8²), a few optimizer steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_PROFILE = """\
name: tiny
budget: {budget}
seeds: [0]
trainer: {{batch_size: 4, eval_every: 5}}
evaluation: {{metrics: [relative_l2, nrmse]}}
models:
  fno: {{hidden_channels: 4, n_layers: 1, n_modes: 4}}
  fno_time: {{hidden_channels: 4, n_layers: 1, n_modes: 4}}
  deeponet: {{branch_layers: [8], trunk_layers: [8]}}
benchmarks:
  poisson:
    description: tiny periodic Poisson
    recipe: poisson2d
    generate: {{n_samples: 16, resolution: 16}}
    data: {{inputs: [f], outputs: [u], n_train: 12, n_test: 4, subsample: 2}}
    zero_shot: [16]
"""


def write_profile(folder: Path, budget: str = "{steps: 5}") -> Any:
    """Write the tiny profile with ``budget`` into ``folder`` and load it."""
    from sciml.bench import load_profile

    path = folder / "tiny.yaml"
    path.write_text(TINY_PROFILE.format(budget=budget))
    return load_profile(path)
