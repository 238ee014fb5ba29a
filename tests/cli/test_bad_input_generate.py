"""`sciml generate` with bad input: one message, nothing lost, nothing partial left behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest
from bad_input import Case, run

import sciml.data.output_path

SMALL = ("--set", "n_samples=8", "--set", "batch_size=4", "--quiet")

EXISTING_FOLDER = Case(
    "sciml generate",
    "--out names an existing folder (checked before any work)",
    "sciml generate antiderivative --out adir",
    "sciml generate: error: adir: is an existing folder; give the path of a file to write, "
    "e.g. adir/antiderivative.h5",
)
UNDER_A_FILE = Case(
    "sciml generate",
    "--out lies under a file",
    "sciml generate antiderivative --out notes.txt/a.h5",
    "sciml generate: error: notes.txt/a.h5: cannot create the output folder: notes.txt is a "
    "file, not a folder",
)
UNWRITABLE = Case(
    "sciml generate",
    "--out is in a folder this user cannot write",
    "sciml generate antiderivative --out locked/a.h5",
    "sciml generate: error: locked/a.h5: cannot create the output folder: the folder locked is "
    "not writable",
)
DISK_FULL = Case(
    "sciml generate",
    "the disk fills up mid-write (the earlier file is kept, the .partial deleted)",
    "sciml generate antiderivative --out a.h5",
    "sciml generate: error: a.h5 [t0_fields/…]: the disk is full (4 of 8 trajectories were "
    "written); the unfinished a.h5.partial was deleted to give the space back: free some space "
    "and run again",
)
UNKNOWN_RECIPE = Case(
    "sciml generate",
    "unknown recipe name",
    "sciml generate antiderivate",
    "sciml generate: error: unknown recipe 'antiderivate'. Did you mean 'antiderivative'? "
    "Registered recipes: …",
)
UNKNOWN_PARAMETER = Case(
    "sciml generate",
    "unknown recipe parameter",
    "sciml generate antiderivative --set n_sample=8",
    "sciml generate: error: recipe 'antiderivative' has no parameter(s) ['n_sample']. "
    "Valid: n_samples (default …",
)
BAD_VALUE = Case(
    "sciml generate",
    "a parameter value out of range",
    "sciml generate antiderivative --set n_samples=0",
    "sciml generate: error: recipe 'antiderivative': n_samples: Input should be greater than "
    "or equal to 1; got 0",
)
MALFORMED_SET = Case(
    "sciml generate",
    "--set without '='",
    "sciml generate antiderivative --set n_samples",
    "sciml generate: error: --set 'n_samples': expected KEY.PATH=VALUE, e.g. trainer.epochs=5",
)
BAD_DEVICE = Case(
    "sciml generate",
    "a device this machine does not have",
    "sciml generate antiderivative --device gpu",
    "sciml generate: error: recipe 'antiderivative': …'gpu'…",
)
NO_PARTIAL = Case(
    "sciml generate",
    "--resume with nothing to resume",
    "sciml generate antiderivative --out a.h5 --resume",
    "sciml generate: error: a.h5.partial: cannot resume: it does not exist; run without "
    "--resume to start over",
)
OTHER_PARTIAL = Case(
    "sciml generate",
    "--resume a .partial made with other parameters",
    "sciml generate antiderivative --set seed=1 --out a.h5 --resume",
    "sciml generate: error: a.h5.partial: cannot resume: it was written with other parameters; "
    "run without --resume to start over",
)
SIGTERM = Case(
    "sciml generate",
    "SIGTERM (or Ctrl-C) during generation: a clean stop after the current block",
    "kill -TERM <pid of: sciml generate antiderivative --out g.h5>",
    "SIGTERM: stopping after the current block (Ctrl-C again to stop at once)\n"
    "sciml generate: stopped by SIGTERM after … of 400 trajectories; g.h5.partial keeps them: "
    "run the same command with --resume to continue",
    exit=128 + signal.SIGTERM,
)
MESH_INVERTED = Case(
    "sciml generate",
    "a mesh file with an inverted element",
    "sciml generate darcy_unstructured --set mesh_file=inverted.vtu",
    "sciml generate: error: inverted.vtu: cell 1 is inverted (signed volume -5.000e-01 < 0, "
    "vertices [0, 3, 2]; 1 such cells). Order vertices counter-clockwise (2D) / right-handed "
    "(3D).",
)
MESH_DEGENERATE = Case(
    "sciml generate",
    "a mesh file with a degenerate (zero-area) element",
    "sciml generate darcy_unstructured --set mesh_file=flat.vtu",
    "sciml generate: error: flat.vtu: cell 2 is degenerate (volume 0.000e+00, vertices "
    "[0, 1, 4] at [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]; 1 such cells)",
)
MESH_ORPHAN = Case(
    "sciml generate",
    "a mesh file with a node no element uses",
    "sciml generate darcy_unstructured --set mesh_file=orphan.vtu",
    "sciml generate: error: orphan.vtu: node 4 at [2.0, 0.0] is not referenced by any cell "
    "(1 unreferenced nodes)",
)
MESH_UNREADABLE = Case(
    "sciml generate",
    "a mesh file no reader understands",
    "sciml generate darcy_unstructured --set mesh_file=junk.msh",
    "sciml generate: error: junk.msh: cannot read mesh (Couldn't read file junk.msh as either "
    "of ansys, gmsh); formats: those meshio reads (.msh, .vtu, .xdmf, ...)",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each case runs in its own empty folder, with paths as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_output_that_is_an_existing_folder_is_refused_before_any_work(capsys, in_tmp):
    (in_tmp / "adir").mkdir()
    (in_tmp / "adir" / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "generate", "antiderivative", "--out", "adir", *SMALL)
    EXISTING_FOLDER.check(code, err)
    assert listing(in_tmp) == ["adir", "adir/keep.txt"]  # no adir.partial: nothing was run
    assert (in_tmp / "adir" / "keep.txt").read_text() == "mine"


def test_output_under_a_file_is_refused(capsys, in_tmp):
    (in_tmp / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "generate", "antiderivative", "--out", "notes.txt/a.h5", *SMALL)
    UNDER_A_FILE.check(code, err)
    assert listing(in_tmp) == ["notes.txt"]


def test_output_in_an_unwritable_folder_is_refused(capsys, in_tmp, monkeypatch):
    locked = in_tmp / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the check see what another user would
        real = os.access
        monkeypatch.setattr(
            sciml.data.output_path.os,
            "access",
            lambda p, mode: False if Path(p).resolve() == locked else real(p, mode),
        )
    else:
        locked.chmod(0o555)
    code, _, err = run(capsys, "generate", "antiderivative", "--out", "locked/a.h5", *SMALL)
    locked.chmod(0o755)
    UNWRITABLE.check(code, err)
    assert listing(in_tmp) == ["locked"]


def test_full_disk_mid_write_keeps_the_earlier_file_and_no_partial(capsys, in_tmp, monkeypatch):
    code, _, _ = run(capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL)
    assert code == 0
    before = (in_tmp / "a.h5").read_bytes()
    real_setitem = h5py.Dataset.__setitem__
    calls = {"n": 0}

    def fills_up(self, key, value):  # the second block's first field write hits a full disk
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_setitem(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", fills_up)
    code, _, err = run(
        capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL, "--set", "seed=7"
    )
    DISK_FULL.check(code, err)
    assert listing(in_tmp) == ["a.h5"]
    assert (in_tmp / "a.h5").read_bytes() == before


@pytest.mark.parametrize(
    ("case", "argv"),
    [
        (UNKNOWN_RECIPE, ["antiderivate"]),
        (UNKNOWN_PARAMETER, ["antiderivative", "--set", "n_sample=8"]),
        (BAD_VALUE, ["antiderivative", "--set", "n_samples=0"]),
        (MALFORMED_SET, ["antiderivative", "--set", "n_samples"]),
        (BAD_DEVICE, ["antiderivative", "--device", "gpu"]),
    ],
)
def test_bad_recipe_name_parameter_or_device_writes_nothing(capsys, in_tmp, case, argv):
    code, _, err = run(capsys, "generate", *argv, "--out", "a.h5", "--quiet")
    case.check(code, err)
    assert listing(in_tmp) == []


def test_resume_without_a_partial_file_is_refused(capsys, in_tmp):
    code, _, err = run(capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL, "--resume")
    NO_PARTIAL.check(code, err)
    assert listing(in_tmp) == []


def interrupt_after_first_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generation receives SIGTERM right after writing its first block."""
    from sciml.data.format import DatasetWriter

    real_write = DatasetWriter.write

    def write_then_sigterm(self, start, arrays):
        real_write(self, start, arrays)
        if start == 0:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(DatasetWriter, "write", write_then_sigterm)


def test_resume_of_a_partial_file_made_with_other_parameters_is_refused(
    capsys, in_tmp, monkeypatch
):
    with monkeypatch.context() as m:
        interrupt_after_first_block(m)
        code, _, err = run(capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL)
    assert code == 128 + signal.SIGTERM, err
    assert listing(in_tmp) == ["a.h5.partial"]
    before = (in_tmp / "a.h5.partial").read_bytes()
    code, _, err = run(
        capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL, "--set", "seed=1", "--resume"
    )
    OTHER_PARTIAL.check(code, err)
    assert listing(in_tmp) == ["a.h5.partial"]
    assert (in_tmp / "a.h5.partial").read_bytes() == before
    code, _, err = run(capsys, "generate", "antiderivative", "--out", "a.h5", *SMALL, "--resume")
    assert code == 0, err
    assert listing(in_tmp) == ["a.h5"]


def test_sigterm_stops_cleanly_and_resume_equals_an_uninterrupted_run(in_tmp):
    from sciml.data.recipes.base import generate

    params = ["--set", "n_samples=400", "--set", "batch_size=4"]
    cmd = [sys.executable, "-m", "sciml", "generate", "antiderivative", *params, "--out", "g.h5"]
    # one thread, as in this process: the recipe's float sums depend on the thread count
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*cmd, "--quiet"], stderr=subprocess.PIPE, text=True, env=env)
    partial = in_tmp / "g.h5.partial"
    deadline = time.monotonic() + 120
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    SIGTERM.check(proc.returncode, err)
    assert listing(in_tmp) == ["g.h5.partial"]

    done = subprocess.run([*cmd, "--quiet", "--resume"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert listing(in_tmp) == ["g.h5"]
    generate("antiderivative", "ref.h5", {"n_samples": 400, "batch_size": 4}, progress=False)
    with h5py.File("g.h5") as got, h5py.File("ref.h5") as ref:
        assert list(got["t0_fields"]) == list(ref["t0_fields"]) == ["u", "v"]
        for key in ref["t0_fields"]:
            np.testing.assert_array_equal(got["t0_fields"][key][...], ref["t0_fields"][key][...])
        assert got.attrs["complete"] and got.attrs["config"] == ref.attrs["config"]


def _write_mesh(path: Path, points: list[list[float]], triangles: list[list[int]]) -> None:
    pts = np.array([[*p, 0.0] for p in points])
    meshio.write(path, meshio.Mesh(pts, [("triangle", np.array(triangles))]))


SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("case", "name", "points", "triangles"),
    [
        (MESH_INVERTED, "inverted.vtu", SQUARE, [[0, 1, 2], [0, 3, 2]]),
        (MESH_DEGENERATE, "flat.vtu", [*SQUARE, [2.0, 0.0]], [[0, 1, 2], [0, 2, 3], [0, 1, 4]]),
        (MESH_ORPHAN, "orphan.vtu", [*SQUARE, [2.0, 0.0]], [[0, 1, 2], [0, 2, 3]]),
    ],
)
def test_bad_mesh_elements_are_named_before_anything_is_written(
    capsys, in_tmp, case, name, points, triangles
):
    _write_mesh(in_tmp / name, points, triangles)
    code, _, err = run(
        capsys, "generate", "darcy_unstructured", "--set", f"mesh_file={name}", "--out", "m.h5"
    )
    case.check(code, err)
    assert listing(in_tmp) == [name]


def test_unreadable_mesh_file_is_named(capsys, in_tmp):
    (in_tmp / "junk.msh").write_text("not a mesh\n")
    code, out, err = run(
        capsys, "generate", "darcy_unstructured", "--set", "mesh_file=junk.msh", "--out", "m.h5"
    )
    MESH_UNREADABLE.check(code, err)
    assert out == "" and listing(in_tmp) == ["junk.msh"]
