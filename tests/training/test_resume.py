"""A run interrupted (SIGKILL, Ctrl-C) and resumed from last.pt ends bit-identical to a whole one.

The three runs (reference, killed, Ctrl-C'd) are subprocesses of ``tiny_run.py`` launched together,
and both resumptions run together, so the wall time is about two interpreter start-ups.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sciml.training import load_checkpoint

SCRIPT = Path(__file__).with_name("tiny_run.py")
TOTAL_STEPS = 12  # tiny_run defaults: 4 epochs x 3 optimizer steps
SLEEP = "0.15"  # seconds per training micro-batch while we wait to interrupt
# step_4 is mid-epoch (4 of 6 micro-batches of epoch 1 done): a resume must skip those.
INTERRUPT_AFTER = "step_4.pt"


def _launch(run_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(run_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@dataclass
class Finished:
    summary: dict
    stderr: str


def _finish(proc: subprocess.Popen[str]) -> Finished:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return Finished(json.loads(out), err)


def _interrupt_when_checkpointed(
    procs: dict[signal.Signals, tuple[Path, subprocess.Popen]],
) -> None:
    """Send each process its signal as soon as its run has written ``INTERRUPT_AFTER``."""
    pending = dict(procs)
    deadline = time.monotonic() + 120
    while pending:
        for sig, (run_dir, proc) in list(pending.items()):
            if (run_dir / "checkpoints" / INTERRUPT_AFTER).exists():
                proc.send_signal(sig)
                del pending[sig]
            else:
                assert proc.poll() is None, (
                    f"run ended before {INTERRUPT_AFTER}: {proc.stderr.read()}"
                )
        assert time.monotonic() < deadline, "runs never reached their checkpoint"
        time.sleep(0.02)


def _weights(run_dir: Path) -> tuple[int, dict[str, torch.Tensor]]:
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return state["step"], state["model"]


def test_interrupted_runs_resume_to_bit_identical_weights(tmp_path: Path) -> None:
    # One test, not several sharing a fixture: under pytest-xdist a module fixture would run
    # once per worker, and these subprocesses are the most expensive part of the suite.
    ref_dir, kill_dir, int_dir = tmp_path / "ref", tmp_path / "kill", tmp_path / "int"
    reference = _launch(ref_dir)
    killed = _launch(kill_dir, "--sleep", SLEEP)
    ctrl_c = _launch(int_dir, "--sleep", SLEEP)
    _interrupt_when_checkpointed(
        {signal.SIGKILL: (kill_dir, killed), signal.SIGINT: (int_dir, ctrl_c)}
    )
    killed.wait(timeout=60)
    interrupted = _finish(ctrl_c)
    killed_at, _ = _weights(kill_dir)
    resumes = [_launch(kill_dir, "--resume"), _launch(int_dir, "--resume")]

    # Ctrl-C: the current step completes, last.pt holds it, the exit is clean.
    stopped_at = interrupted.summary["steps"]
    assert interrupted.summary["interrupted"]
    assert 4 <= stopped_at < TOTAL_STEPS
    assert _weights(int_dir)[0] == stopped_at
    assert "Traceback" not in interrupted.stderr
    assert f"interrupted at step {stopped_at}" in interrupted.stderr
    # SIGKILL really cut the run short.
    assert 4 <= killed_at < TOTAL_STEPS

    ref_summary = _finish(reference).summary
    ref_step, ref_weights = _weights(ref_dir)
    resumed_kill, resumed_int = (_finish(proc).summary for proc in resumes)
    assert ref_step == TOTAL_STEPS
    for run_dir in (kill_dir, int_dir):
        step, weights = _weights(run_dir)
        assert step == TOTAL_STEPS
        _assert_bit_identical(weights, ref_weights)
    assert resumed_int["steps"] == TOTAL_STEPS
    # The log continues the interrupted one: rows the killed process wrote after its last
    # checkpoint are dropped, not duplicated; only wall times differ.
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]
    assert drop_time(resumed_kill["history"]) == drop_time(ref_summary["history"])
    assert [r["step"] for r in resumed_kill["history"]] == list(range(1, TOTAL_STEPS + 1))


def _assert_bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
