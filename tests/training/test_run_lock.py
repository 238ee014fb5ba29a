"""The run-directory lock: one holder at a time, never stuck after its holder dies."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from sciml.training.run_lock import (
    RunLockError,
    acquire_run_lock,
    lock_path,
    release_run_lock,
    run_lock,
)

CTX = multiprocessing.get_context("fork")


def _try_lock(run_dir: str, queue) -> None:  # in a child process
    try:
        acquire_run_lock(run_dir)
        queue.put("acquired")
    except RunLockError as err:
        queue.put(str(err))


def _hold_lock(run_dir: str, ready) -> None:  # in a child process, until killed
    acquire_run_lock(run_dir)
    ready.set()
    signal.pause()


def try_in_another_process(run_dir: Path) -> str:
    queue = CTX.Queue()
    child = CTX.Process(target=_try_lock, args=(str(run_dir), queue))
    child.start()
    child.join(30)
    return queue.get(timeout=5)


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path):
    run_dir = tmp_path / "runs" / "a"
    with run_lock(run_dir) as path:
        assert path == lock_path(run_dir) == tmp_path / "runs" / ".a.lock"
        message = try_in_another_process(run_dir)
        assert message.startswith(f"{run_dir}: another sciml process is using this run directory")
        assert f"pid {os.getpid()} on " in message
        assert acquire_run_lock(run_dir) == path  # the holder itself: a no-op
    assert not path.exists() and not (tmp_path / "runs").exists()  # made for the lock, removed
    assert try_in_another_process(run_dir) == "acquired"


def test_a_killed_holder_leaves_nothing_stuck(tmp_path: Path):
    run_dir = tmp_path / "a"
    ready = CTX.Event()
    holder = CTX.Process(target=_hold_lock, args=(str(run_dir), ready))
    holder.start()
    assert ready.wait(30)
    assert "another sciml process" in try_in_another_process(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert lock_path(run_dir).exists()  # the dead holder's file is still there ...
    acquire_run_lock(run_dir)  # ... and no obstacle
    release_run_lock(run_dir)
    assert not lock_path(run_dir).exists()


def test_torchrun_ranks_other_than_zero_take_no_lock(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert acquire_run_lock(tmp_path / "a") is None
    assert not lock_path(tmp_path / "a").exists()


def test_an_unwritable_parent_is_one_clear_error(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunLockError, match=r"file/run: cannot create the run directory"):
        acquire_run_lock(tmp_path / "file" / "run")
