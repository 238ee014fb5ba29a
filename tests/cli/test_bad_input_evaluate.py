"""`sciml evaluate` and `sciml export` with bad input: one message, nothing written."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_input import Case, run

from sciml.data.compat import check_model_fits
from sciml.data.format import DataFileError, DatasetLayout, FieldLayout, write_dataset
from sciml.data.recipes.base import generate

EVAL_RUN_MISSING = Case(
    "sciml evaluate",
    "a run directory that does not exist",
    "sciml evaluate runs/tiyn",
    "sciml evaluate: error: runs/tiyn: no such run directory",
)
EVAL_NOT_A_RUN = Case(
    "sciml evaluate",
    "a folder that is not a run directory",
    "sciml evaluate data",
    "sciml evaluate: error: data: no spec.yaml; not a sciml run directory",
)
EVAL_OUT_IS_A_FILE = Case(
    "sciml evaluate",
    "--out names an existing file",
    "sciml evaluate run --out notes.txt",
    "sciml evaluate: error: notes.txt: is an existing file, not a folder; give another path for "
    "the evaluation folder",
)
EVAL_OTHER_FIELDS = Case(
    "sciml evaluate",
    "--data: a file without the fields the model was trained on",
    "sciml evaluate run --data antiderivative.h5",
    "sciml evaluate: error: antiderivative.h5 [f]: no input field 'f'; available: ['u', 'v']",
)
EVAL_BAD_DEVICE = Case(
    "sciml evaluate",
    "a device name torch does not know",
    "sciml evaluate run --device gpu",
    "sciml evaluate: error: --device: device='gpu' is not a torch device name (e.g. 'cpu', "
    "'cuda', 'cuda:1')",
)
EVAL_BAD_RESOLUTION = Case(
    "sciml evaluate",
    "--resolution the data cannot be subsampled to",
    "sciml evaluate run --resolution 7",
    "sciml evaluate: error: --resolution 7: …/poisson2d.h5 has 16 points per axis; available "
    "resolutions: [1, 2, 4, 8, 16]",
)
EVAL_PICKLED_OBJECT = Case(
    "sciml evaluate",
    "a checkpoint holding an arbitrary pickled object (refused, never unpickled)",
    "sciml evaluate run",
    "sciml evaluate: error: run/checkpoints/best.pt: refused: the file asks to rebuild the "
    "Python object posix.system, not only tensors and numbers; loading it could run arbitrary "
    "code, so sciml reads checkpoints with torch.load(weights_only=True). A sciml checkpoint "
    "never holds such objects: this file was not written by sciml, or was altered",
)
EXPORT_RUN_MISSING = Case(
    "sciml export",
    "a run directory that does not exist",
    "sciml export runs/tiyn",
    "sciml export: error: runs/tiyn: no such run directory",
)
EXPORT_OUT_IS_A_FOLDER = Case(
    "sciml export",
    "--out names an existing folder",
    "sciml export run --out exported",
    "sciml export: error: exported: is an existing folder; give the path of a file to write, "
    "e.g. exported/surrogate.pt2",
)
EXPORT_OUT_UNDER_A_FILE = Case(
    "sciml export",
    "--out lies under a file",
    "sciml export run --out notes.txt/m.pt2",
    "sciml export: error: notes.txt/m.pt2: cannot write there: …",
)
EXPORT_BAD_BATCH = Case(
    "sciml export",
    "--batch-size below 1",
    "sciml export run --batch-size 0",
    "usage: sciml export …\n"
    "sciml export: error: argument --batch-size: expected an integer >= 1, got '0'",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_dir(in_tmp: Path, tiny_run: Path) -> Path:
    """A copy of the session's trained tiny FNO run, as ``run``."""
    return Path(shutil.copytree(tiny_run, in_tmp / "run"))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_evaluate_a_missing_or_non_run_directory(capsys, in_tmp):
    EVAL_RUN_MISSING.check(*run(capsys, "evaluate", "runs/tiyn")[::2])
    (in_tmp / "data").mkdir()
    EVAL_NOT_A_RUN.check(*run(capsys, "evaluate", "data")[::2])
    assert listing(in_tmp) == ["data"]


def test_evaluate_into_a_file_writes_nothing(capsys, in_tmp, run_dir):
    (in_tmp / "notes.txt").write_text("mine")
    before = listing(run_dir)
    EVAL_OUT_IS_A_FILE.check(*run(capsys, "evaluate", "run", "--out", "notes.txt")[::2])
    assert (in_tmp / "notes.txt").read_text() == "mine" and listing(run_dir) == before


def test_evaluate_on_a_file_with_other_fields(capsys, in_tmp, run_dir):
    generate("antiderivative", "antiderivative.h5", {"n_samples": 4}, progress=False)
    code, _, err = run(capsys, "evaluate", "run", "--data", "antiderivative.h5", "--out", "ev")
    EVAL_OTHER_FIELDS.check(code, err)


@pytest.mark.parametrize(
    ("case", "argv"),
    [(EVAL_BAD_DEVICE, ["--device", "gpu"]), (EVAL_BAD_RESOLUTION, ["--resolution", "7"])],
)
def test_evaluate_with_a_bad_device_or_resolution(capsys, in_tmp, run_dir, case, argv):
    before = listing(run_dir)
    case.check(*run(capsys, "evaluate", "run", *argv, "--out", "ev")[::2])
    assert listing(run_dir) == before


class _RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_evaluate_and_export_refuse_a_checkpoint_with_a_pickled_object(capsys, in_tmp, run_dir):
    buffer = io.BytesIO()
    torch.save({"model": _RunsACommand()}, buffer)
    (run_dir / "checkpoints" / "best.pt").write_bytes(buffer.getvalue())
    EVAL_PICKLED_OBJECT.check(*run(capsys, "evaluate", "run", "--out", "ev")[::2])
    code, _, err = run(capsys, "export", "run", "--out", "m.pt2")
    assert code == 2 and "refused: the file asks to rebuild" in err
    assert not (in_tmp / "pwned.txt").exists() and not (in_tmp / "m.pt2").exists()


def test_export_of_a_missing_run_or_into_a_folder_or_under_a_file(capsys, in_tmp, run_dir):
    EXPORT_RUN_MISSING.check(*run(capsys, "export", "runs/tiyn")[::2])
    (in_tmp / "exported").mkdir()
    EXPORT_OUT_IS_A_FOLDER.check(*run(capsys, "export", "run", "--out", "exported")[::2])
    (in_tmp / "notes.txt").write_text("mine")
    EXPORT_OUT_UNDER_A_FILE.check(
        *run(capsys, "export", "run", "--out", "notes.txt/m.pt2", "--format", "torchscript")[::2]
    )
    assert listing(in_tmp / "exported") == [] and (in_tmp / "notes.txt").read_text() == "mine"


def test_export_with_a_batch_size_below_one(capsys, in_tmp, run_dir):
    with pytest.raises(SystemExit) as exc:
        run(capsys, "export", "run", "--batch-size", "0")
    EXPORT_BAD_BATCH.check(exc.value.code, capsys.readouterr().err)


def _write_fields(path: Path, coords: dict[str, np.ndarray], n: int = 4) -> None:
    """A file with the tiny run's fields f and u on another grid."""
    shape = tuple(len(c) for c in coords.values())
    layout = DatasetLayout(
        dataset_name="other",
        n_trajectories=n,
        time=np.array([0.0]),
        coords=coords,
        fields=[FieldLayout("f", time_varying=False), FieldLayout("u", time_varying=False)],
    )
    rng = np.random.default_rng(0)
    write_dataset(path, layout, {k: rng.normal(size=(n, *shape)) for k in ("f", "u")})


@pytest.mark.parametrize(
    ("coords", "invariant", "message"),
    [
        (
            {"x": np.linspace(0, 1, 8)},
            True,
            r"trained on 2D fields of shape \(8, 8\); this data is "
            r"1D, of shape \(8,\)",
        ),
        (
            {"x": np.linspace(0, 1, 12), "y": np.linspace(0, 1, 12)},
            False,
            r"trained at resolution "
            r"\(8, 8\) and cannot take another .* this data is \(12, 12\)",
        ),
    ],
)
def test_a_trained_run_is_refused_data_of_another_dimension_or_grid(
    in_tmp, run_dir, coords, invariant, message
):
    """What `sciml evaluate --data` will say once the task calls check_model_fits (the FNO is
    resolution invariant; the second case stands for a model with a fixed grid)."""
    import sciml
    from sciml.data.grid import GridPairDataset

    _write_fields(in_tmp / "other.h5", coords)
    loaded = sciml.load(run_dir)
    sample = GridPairDataset(in_tmp / "other.h5", ["f"], ["u"], split="all")[0]
    with pytest.raises(DataFileError, match=message):
        check_model_fits("other.h5", loaded.info, sample, resolution_invariant=invariant)
