"""Checkpoint files: atomic writes, round trips, RNG snapshots, and clear errors for bad files."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.training.checkpoint import (
    REQUIRED_KEYS,
    CheckpointError,
    atomic_write_bytes,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def _state(value: float = 1.0) -> dict:
    return {
        "model": {"w": torch.full((3,), value, dtype=torch.float64)},
        "optimizer": {},
        "scheduler": {"steps_done": 2},
        "step": 2,
        "epoch": 0,
        "rng": capture_rng_state(),
        "val_loss": None,
    }


def test_saved_checkpoint_loads_back_equal(tmp_path: Path) -> None:
    save_checkpoint(_state(2.5), tmp_path / "a.pt", tmp_path / "b.pt")
    for name in ("a.pt", "b.pt"):
        loaded = load_checkpoint(tmp_path / name)
        assert torch.equal(loaded["model"]["w"], torch.full((3,), 2.5, dtype=torch.float64))
        assert loaded["step"] == 2 and loaded["val_loss"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "b.pt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(_state(1.0), path)

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(_state(9.0), path)
    monkeypatch.undo()
    assert load_checkpoint(path)["model"]["w"][0].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_restored_rng_state_replays_the_same_draws() -> None:
    snapshot = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3), np.random.randn())
    restore_rng_state(snapshot)
    second = (random.random(), np.random.rand(), torch.rand(3), np.random.randn())
    assert first[0] == second[0] and first[1] == second[1] and first[3] == second[3]
    assert torch.equal(first[2], second[2])


def test_rng_state_survives_a_save_load_round_trip(tmp_path: Path) -> None:
    save_checkpoint(_state(), tmp_path / "c.pt")
    expected = (random.random(), np.random.rand(), torch.rand(2))
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(2), expected[2])


def test_missing_checkpoint_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_garbage_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"this is not a torch file")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_truncated_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    save_checkpoint(_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_file_without_trainer_entries_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match="not a sciml trainer checkpoint.*'optimizer'"):
        load_checkpoint(path)
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match="expected a checkpoint dict"):
        load_checkpoint(path)


def test_required_keys_are_the_documented_ones() -> None:
    assert set(REQUIRED_KEYS) == {
        "model",
        "optimizer",
        "scheduler",
        "step",
        "epoch",
        "rng",
        "val_loss",
    }


def test_save_needs_a_destination() -> None:
    with pytest.raises(ValueError, match="at least one destination"):
        save_checkpoint(_state())


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_the_mode_open_would_give_them(tmp_path: Path, umask: int) -> None:
    """Not mkstemp's private 0600: logs and checkpoints are as readable as the run's other files."""
    previous = os.umask(umask)
    try:
        atomic_write_bytes(b"data", [tmp_path / "file.bin"])
        (tmp_path / "plain.bin").write_bytes(b"data")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "file.bin").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == 0o666 & ~umask
