"""The time-conditioned task with a constant input channel (a forcing): the model reads the state
and the forcing, predicts the state; the rollouts pass the forcing with every call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import sciml
from sciml.data.grid import AllToAllDataset
from sciml.data.recipes.base import generate

TINY = {"n_samples": 6, "batch_size": 6, "n_fine": 32, "n_x": 16, "t_end": 0.02, "n_t": 3,
        "dt": 0.005, "n_modes": 4, "forcing_amplitude": 5.0}  # fmt: skip


@pytest.fixture(scope="module")
def forced_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("forced_run")
    data = generate("ns_forced", root / "ns_forced.h5", TINY, progress=False)
    spec = sciml.load_spec(
        text=f"""\
name: fno_time_forced
data:
  path: {data}
  kind: all2all
  inputs: [velocity]
  outputs: [velocity]
  options: {{constant_inputs: [forcing]}}
  n_test: 2
  n_val: 0
model:
  name: fno_time
  n_modes: [4, 4]
  hidden_channels: 8
  n_layers: 2
trainer:
  epochs: 1
  batch_size: 8
  loss: {{name: channel_group_l1, groups: [[0, 1]]}}
  progress: false
evaluation:
  metrics: [relative_l2]
  plots: false
"""
    )
    sciml.train(spec, root / "run", progress=False)
    return data, root / "run"


def test_model_reads_state_and_forcing_and_rollouts_pass_the_forcing(forced_run, tmp_path) -> None:
    data, run = forced_run
    info = json.loads((run / "model.json").read_text())
    assert (info["in_channels"], info["out_channels"]) == (3, 2)
    test = sciml.evaluate(run, out_dir=tmp_path / "eval").sections["test"]

    surrogate = sciml.load(run)
    frames = AllToAllDataset(data, ["velocity"], split="test", n_test=2)
    const = AllToAllDataset(data, ["velocity"], constant_inputs=["forcing"], split="test", n_test=2)
    x0 = torch.stack([frames.trajectory(k)[0] for k in range(2)])
    truth = torch.stack([frames.trajectory(k)[-1] for k in range(2)])
    forcing = torch.stack([const.constants(k) for k in range(2)])
    with torch.no_grad():
        pred = surrogate(torch.cat([x0, forcing], dim=1), torch.full((2,), 0.02))
    err = torch.linalg.vector_norm((pred - truth).flatten(1), dim=1) / torch.linalg.vector_norm(
        truth.flatten(1), dim=1
    )
    assert test["direct_relative_l2_final"] == pytest.approx(float(err.mean()), rel=1e-4)


def test_load_without_the_forcing_channel_names_the_expected_channels(forced_run) -> None:
    data, run = forced_run
    info = json.loads((run / "model.json").read_text())
    assert info["constant_inputs"] == ["forcing"]
    frames = AllToAllDataset(data, ["velocity"], split="test", n_test=2)
    x0 = torch.stack([frames.trajectory(k)[0] for k in range(2)])  # (2, 2, 16, 16): no forcing
    with pytest.raises(ValueError) as err:
        sciml.load(run)(x0, 0.02)
    assert str(err.value) == (
        "input has 2 channels, expected 3: the fields ['velocity'] (2) then the constant inputs "
        "['forcing'] (1), concatenated along the channel axis (the constant inputs ['forcing'] "
        "are missing)"
    )
