"""Data parallelism: 2 gloo ranks under torchrun reproduce the 1-process run (same global batch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_run import make_trainer

from sciml.training import load_checkpoint
from sciml.training.distributed import (
    DistContext,
    all_reduce_sum,
    init_distributed,
    per_rank_batch_size,
    wrap_model,
)

SCRIPT = Path(__file__).with_name("tiny_run.py")


def test_two_gloo_ranks_match_one_process_loss_curve(tmp_path: Path) -> None:
    # Dropout off: each rank draws its own masks, which a single process cannot reproduce.
    ddp_dir, single_dir, out = tmp_path / "ddp", tmp_path / "single", tmp_path / "ddp.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += [str(SCRIPT), str(ddp_dir), "--dropout", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # The 1-process reference trains while the ranks start up.
    single = make_trainer(single_dir, dropout=0.0)
    reference = single.fit()
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp["steps"] == reference.steps == 12
    for got, want in zip(ddp["history"], reference.history, strict=True):
        assert got["step"] == want["step"]
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-6)
        if want["val_loss"] is not None:
            assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-6)
    # Only rank 0 wrote the run directory; its weights are the single-process ones.
    ddp_weights = load_checkpoint(ddp_dir / "checkpoints" / "last.pt")["model"]
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=1e-9, atol=1e-12)


def test_without_torchrun_everything_is_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.enabled) == (0, 1, True, False)
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model, ctx) is model
    t = torch.tensor([3.0])
    assert all_reduce_sum(t, ctx).item() == 3.0


def test_malformed_world_size_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        init_distributed("cpu")


def test_global_batch_splits_evenly_over_ranks() -> None:
    assert per_rank_batch_size(32, 4) == 8
    with pytest.raises(ValueError, match="batch_size 30 .* not divisible by the 4 processes"):
        per_rank_batch_size(30, 4)


def test_only_rank_zero_is_main() -> None:
    assert DistContext(rank=0, world_size=2).is_main
    assert not DistContext(rank=1, world_size=2).is_main
