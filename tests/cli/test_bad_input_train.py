"""`sciml train` with bad input: run directories, concurrent runs, bad data files, bad checkpoints."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from bad_input import Case, run

from sciml.training.run_lock import lock_path

SPEC = """\
name: tiny
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
  epochs: {epochs}
  batch_size: 8
  eval_every: 2
  checkpoint_every: 2
  progress: false
"""

NO_SPEC = Case(
    "sciml train",
    "neither a spec nor --resume",
    "sciml train",
    "sciml train: error: give a spec file, or --resume RUN_DIR",
)
RUN_DIR_IS_A_FILE = Case(
    "sciml train",
    "--out names an existing file",
    "sciml train spec.yaml --out notes.txt",
    "sciml train: error: notes.txt: is an existing file, not a folder; give another path for "
    "the run directory",
)
RUN_DIR_UNDER_A_FILE = Case(
    "sciml train",
    "--out lies under a file (checked before the data is read)",
    "sciml train spec.yaml --out notes.txt/run",
    "sciml train: error: notes.txt/run: cannot create the run directory: notes.txt is a file, "
    "not a folder",
)
RUN_DIR_EXISTS = Case(
    "sciml train",
    "the run directory holds an earlier run",
    "sciml train spec.yaml --out run",
    "sciml train: error: run: run directory exists; continue it with `sciml train --resume "
    "run`, or start over with --overwrite",
)
RUN_DIR_IN_USE = Case(
    "sciml train",
    "a second `sciml train` into a run directory another process is training in",
    "sciml train spec.yaml --out run --overwrite   # while another sciml train writes run/",
    "sciml train: error: run: another sciml process is using this run directory (pid … on …, "
    "since …: …); wait for it to finish or stop it, then run again (lock file ….run.lock)",
)
RESUME_MISSING = Case(
    "sciml train",
    "--resume a run directory that does not exist",
    "sciml train --resume runs/tiyn",
    "sciml train: error: runs/tiyn: no such run directory",
)
DATA_MISSING = Case(
    "sciml train",
    "the data file does not exist",
    "sciml train spec.yaml",
    "sciml train: error: missing.h5: data file not found; make it with: sciml generate "
    "poisson2d --out missing.h5",
)
NAN_IN_DATA = Case(
    "sciml train",
    "NaN inside the HDF5 data (the whole file is scanned before training)",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5 [t0_fields/f]: non-finite value (NaN/Inf) in trajectory 5 at "
    "index (3, 4) (to use the file anyway, open it with check_finite=False; in a spec: "
    "data.options: {check_finite: false})",
)
SAMPLE_COUNTS = Case(
    "sciml train",
    "fields of one file with different sample counts",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5 [t0_fields/u]: holds 20 samples but the file has "
    "n_trajectories = 24 (every field needs one sample per trajectory)",
)
INT_FIELD = Case(
    "sciml train",
    "an integer field",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5 [t0_fields/u]: dtype int32 is not a floating-point type "
    "(float16, float32 or float64)",
)
COMPLEX_FIELD = Case(
    "sciml train",
    "a complex field",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5 [t0_fields/u]: complex dtype complex64 is not supported: store "
    "the real and imaginary parts as two real fields",
)
NO_SAMPLES = Case(
    "sciml train",
    "a data file with zero samples",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5: the file holds no samples (n_trajectories = 0)",
)
TRUNCATED = Case(
    "sciml train",
    "a truncated data file",
    "sciml train spec.yaml",
    "sciml train: error: bad.h5: not a readable HDF5 file (truncated or corrupt?): …",
)
PICKLED_OBJECT = Case(
    "sciml train",
    "--resume from a checkpoint holding an arbitrary pickled object",
    "sciml train --resume run",
    "sciml train: error: run/checkpoints/last.pt: refused: the file asks to rebuild the Python "
    "object posix.system, not only tensors and numbers; loading it could run arbitrary code, so "
    "sciml reads checkpoints with torch.load(weights_only=True). A sciml checkpoint never holds "
    "such objects: this file was not written by sciml, or was altered",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def data(in_tmp: Path, poisson_file: Path) -> Path:
    """The session's 24-sample Poisson file, copied as p.h5 into the case's folder."""
    return Path(shutil.copy(poisson_file, in_tmp / "p.h5"))


def write_spec(folder: Path, data: str = "p.h5", epochs: int = 3) -> str:
    (folder / "spec.yaml").write_text(SPEC.format(data=data, epochs=epochs))
    return "spec.yaml"


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_train_without_a_spec(capsys):
    NO_SPEC.check(*run(capsys, "train")[::2])


def test_run_directory_that_is_a_file_or_under_one_is_refused_before_work(capsys, in_tmp, data):
    write_spec(in_tmp)
    (in_tmp / "notes.txt").write_text("mine")
    RUN_DIR_IS_A_FILE.check(*run(capsys, "train", "spec.yaml", "--out", "notes.txt")[::2])
    RUN_DIR_UNDER_A_FILE.check(*run(capsys, "train", "spec.yaml", "--out", "notes.txt/run")[::2])
    assert listing(in_tmp) == ["notes.txt", "p.h5", "spec.yaml"]
    assert (in_tmp / "notes.txt").read_text() == "mine"


def test_existing_run_is_kept_without_overwrite(capsys, in_tmp, data):
    write_spec(in_tmp)
    (in_tmp / "run").mkdir()
    (in_tmp / "run" / "spec.yaml").write_text("earlier run")
    RUN_DIR_EXISTS.check(*run(capsys, "train", "spec.yaml", "--out", "run", "--quiet")[::2])
    assert (in_tmp / "run" / "spec.yaml").read_text() == "earlier run"
    assert not lock_path(in_tmp / "run").exists()  # the refused run let its lock go


def test_resume_of_a_missing_run_directory(capsys, in_tmp):
    RESUME_MISSING.check(*run(capsys, "train", "--resume", "runs/tiyn")[::2])
    assert listing(in_tmp) == []  # no runs/ folder made for the lock


def test_second_train_into_a_busy_run_directory_is_refused_and_a_killed_run_frees_it(
    capsys, in_tmp, data
):
    write_spec(in_tmp, epochs=100_000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "sciml", "train", "spec.yaml", "--out", "run", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not (in_tmp / "run" / "checkpoints").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.1)
        before = listing(in_tmp / "run")
        code, _, err = run(capsys, "train", "spec.yaml", "--out", "run", "--overwrite")
        RUN_DIR_IN_USE.check(code, err)
        assert str(first.pid) in err
        assert set(before) <= set(listing(in_tmp / "run"))  # --overwrite deleted nothing
        code, _, err = run(capsys, "train", "--resume", "run")
        assert code == 2 and "another sciml process is using this run directory" in err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    # the kernel dropped the dead run's lock: the directory is usable at once
    write_spec(in_tmp, epochs=1)
    code, out, err = run(capsys, "train", "spec.yaml", "--out", "run", "--overwrite", "--quiet")
    assert code == 0, err
    assert "run directory: run" in out


def test_missing_data_file(capsys, in_tmp):
    write_spec(in_tmp, data="missing.h5")
    DATA_MISSING.check(*run(capsys, "train", "spec.yaml", "--out", "run")[::2])
    assert listing(in_tmp) == ["spec.yaml"]


def edit_field(path: Path, key: str, values: np.ndarray) -> None:
    """Replace dataset ``key`` of ``path`` with ``values`` (keeping its attributes)."""
    with h5py.File(path, "r+") as f:
        attrs = dict(f[key].attrs)
        del f[key]
        f[key] = values
        f[key].attrs.update(attrs)


def set_attr(path: Path, name: str, value: object) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs[name] = value


def test_nan_in_the_data_names_field_and_first_bad_sample(capsys, in_tmp, data):
    bad = Path(shutil.copy(data, in_tmp / "bad.h5"))
    with h5py.File(bad, "r+") as f:
        f["t0_fields/f"][5, 3, 4] = np.nan
        f["t0_fields/f"][7, 0, 0] = np.inf
    write_spec(in_tmp, data="bad.h5")
    NAN_IN_DATA.check(*run(capsys, "train", "spec.yaml", "--out", "run", "--quiet")[::2])
    assert not (in_tmp / "run").exists()
    # the documented way to use such a file anyway skips the scan
    code, out, err = run(
        capsys, "validate", "spec.yaml", "--set", "data.options={check_finite: false}"
    )
    assert code == 0, err
    assert "bad.h5: " in out and "train" in out


def test_fields_with_other_sample_counts_dtypes_or_no_samples(capsys, in_tmp, data):
    write_spec(in_tmp, data="bad.h5")
    with h5py.File(data) as f:
        u = f["t0_fields/u"][...]
    for case, edit in (
        (SAMPLE_COUNTS, lambda p: edit_field(p, "t0_fields/u", u[:20])),
        (INT_FIELD, lambda p: edit_field(p, "t0_fields/u", u.astype(np.int32))),
        (COMPLEX_FIELD, lambda p: edit_field(p, "t0_fields/u", u.astype(np.complex64))),
        (NO_SAMPLES, lambda p: set_attr(p, "n_trajectories", 0)),
    ):
        bad = Path(shutil.copy(data, in_tmp / "bad.h5"))
        edit(bad)
        case.check(*run(capsys, "train", "spec.yaml", "--out", "run", "--quiet")[::2])
        assert not (in_tmp / "run").exists()


def test_truncated_data_file(capsys, in_tmp, data):
    (in_tmp / "bad.h5").write_bytes(data.read_bytes()[:4096])
    write_spec(in_tmp, data="bad.h5")
    TRUNCATED.check(*run(capsys, "train", "spec.yaml", "--out", "run", "--quiet")[::2])


class _RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_checkpoint_with_a_pickled_object_is_refused_on_resume(capsys, in_tmp, tiny_run):
    shutil.copytree(tiny_run, in_tmp / "run")
    buffer = io.BytesIO()
    torch.save({"model": {}, "step": _RunsACommand()}, buffer)
    (in_tmp / "run" / "checkpoints" / "last.pt").write_bytes(buffer.getvalue())
    code, _, err = run(capsys, "train", "--resume", "run", "--quiet")
    PICKLED_OBJECT.check(code, err)
    assert not (in_tmp / "pwned.txt").exists()
