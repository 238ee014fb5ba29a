"""Sharded evaluation: ranks predict disjoint runs of the serial batches; the gathered result is
the serial one, bit for bit. The 2-process check (``slow``) runs ``sciml evaluate`` under
``torchrun`` with 2 gloo ranks and compares its metrics.json with a serial run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import Dataset

import sciml.tasks.torchrun as torchrun
from sciml.cli import main
from sciml.evaluation import runner
from sciml.tasks.torchrun import predict, rank_batches, sharded_evaluation
from sciml.training.distributed import DistContext


class Conv(nn.Module):
    """A small convolution (a real reduction per output) that records its batch sizes."""

    input_keys = ("x", "coords")

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(2, 1, 5, padding=2)
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        return self.conv(torch.cat([x, coords], dim=1))


class Fields(Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 1, 32, generator=g)
        self.coords = torch.linspace(0, 1, 32)[None]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.x[i].cumsum(-1), "coords": self.coords}


@given(n=st.integers(1, 300), batch=st.integers(1, 50), world=st.integers(1, 8))
def test_ranks_take_contiguous_runs_of_whole_serial_batches(n: int, batch: int, world: int):
    runs = [rank_batches(n, batch, r, world) for r in range(world)]
    assert [i for run in runs for i in run] == list(range(n))
    for run in runs:
        assert run.start % batch == 0 and (run.stop % batch == 0 or run.stop == n)


def test_two_ranks_gather_the_serial_predictions_bit_for_bit(monkeypatch):
    model, data = Conv(), Fields(11)
    want = runner.predict(model, data, batch_size=3)
    assert model.batches == [3, 3, 3, 2]
    parts: dict[int, object] = {}
    rank = 1

    def all_gather_object(out: list, obj: object) -> None:  # rank 1 runs first, then rank 0
        parts[rank] = obj
        out[:] = [parts.get(r) for r in range(2)]

    monkeypatch.setattr(torchrun.dist, "all_gather_object", all_gather_object)
    for rank, batches in ((1, [3, 2]), (0, [3, 3])):
        model.batches.clear()
        with sharded_evaluation(DistContext(rank=rank, world_size=2), "eval") as out:
            got = predict(model, data, batch_size=3)
            assert (out == "eval") == (rank == 0)  # rank 1 writes into a scratch folder
            scratch = Path(out)
            assert scratch.is_dir() or rank == 0
        assert not scratch.exists() or rank == 0  # removed at the end
        assert model.batches == batches  # each rank computed its own batches only
    assert sorted(got) == sorted(want) == ["coords", "pred", "target"]
    for key, value in want.items():
        assert torch.equal(got[key], value), key


def test_outside_a_sharded_evaluation_predict_is_the_serial_one():
    model, data = Conv(), Fields(5)
    with sharded_evaluation(DistContext(), None) as out:  # one process: nothing shared
        assert out is None
        got = predict(model, data, batch_size=2)
    want = runner.predict(model, data, batch_size=2)
    assert all(torch.equal(got[k], want[k]) for k in want)


@pytest.mark.slow
def test_torchrun_two_ranks_write_the_serial_metrics(tiny_run: Path, tmp_path: Path):
    # all 24 samples in 3 batches of 8: rank 0 predicts batch 0, rank 1 batches 1 and 2
    args = ["evaluate", str(tiny_run), "--split", "all"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "sciml", *args, "--out", str(tmp_path / "ranks")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread, as in this process (conftest)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert main([*args, "--out", str(tmp_path / "serial")]) == 0  # while the ranks start
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert out.count("metrics:") == 1  # rank 0 reports
    got = json.loads((tmp_path / "ranks" / "metrics.json").read_text())
    want = json.loads((tmp_path / "serial" / "metrics.json").read_text())
    for report in (got, want):  # a wall-clock measurement of each run, never reproducible
        for section in report.values():
            section.pop("seconds_per_sample", None)
    assert got == want
    assert want["all"]["n_samples"] == 24.0 and set(want) == {"all", "all@16", "run"}
    assert sorted(os.listdir(tmp_path / "ranks")) == sorted(os.listdir(tmp_path / "serial"))
