"""Foreign data in a few lines: DeepXDE-style .npz and neuraloperator-style .pt files go from file
to a trained and evaluated run with the CLI alone (`sciml import`, a spec without data.dataset,
`sciml evaluate --data` zero-shot at another resolution)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.cli import main
from sciml.data import DatasetFile, DatasetLayout, FieldLayout, write_dataset
from sciml.data.format import DataFileError
from sciml.data.importers import import_arrays


def _deepxde_npz(path: Path, n: int = 40, m: int = 20) -> Path:
    """Laid out like DeepXDE's antiderivative_aligned_*.npz: X = (v (n, m), x (m, 1)), y (n, m)."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, m)[:, None]
    v = rng.standard_normal((n, m))
    u = np.cumsum(v, axis=1) / m  # the antiderivative of v
    X = np.empty(2, dtype=object)
    X[0], X[1] = v.astype(np.float32), x.astype(np.float32)
    np.savez(path, X=X, y=u.astype(np.float32))
    return path


def _neuralop_pt(path: Path, n: int, size: int) -> Path:
    """Laid out like neuraloperator's darcy_train_16.pt: {"x": (N, s, s), "y": (N, s, s)}."""
    g = torch.Generator().manual_seed(size)
    a = (torch.rand(n, size, size, generator=g) > 0.5).float() * 9 + 3
    torch.save({"x": a, "y": 1.0 / a}, path)
    return path


def test_a_deepxde_npz_imports_with_its_trunk_grid(tmp_path):
    src = _deepxde_npz(tmp_path / "antiderivative.npz")
    out = import_arrays(src, tmp_path / "a.h5", {"v": "X.0", "u": "y"}, coords={"x": "X.1"})
    f = DatasetFile(out)
    assert f.n_trajectories == 40 and f.spatial_shape == (20,)
    np.testing.assert_allclose(f.coords["x"], np.linspace(0, 1, 20), rtol=1e-6)
    np.testing.assert_allclose(f.read("u"), np.load(src, allow_pickle=True)["y"], rtol=1e-6)


@pytest.mark.parametrize(
    ("fields", "coords", "message"),
    [
        ({"u": "z"}, None, r"no key 'z'; the file holds \['X', 'y'\]"),
        ({"u": "X"}, None, r"'X' is not a numeric array .*index into it"),
        ({"u": "y", "v": "X.1"}, None, r"fields have different shapes"),
        ({"u": "y"}, {"x": "X.0"}, r"coordinates 'X.0' have 800 values, the fields 20 points"),
    ],
)
def test_import_mistakes_name_the_file_and_key(tmp_path, fields, coords, message):
    src = _deepxde_npz(tmp_path / "a.npz")
    with pytest.raises(DataFileError, match=message):
        import_arrays(src, tmp_path / "a.h5", fields, coords=coords)
    assert not list(tmp_path.glob("a.h5*"))  # nothing written, no .partial


def test_the_writer_squeezes_a_column_axis_and_hints_at_steady_fields(tmp_path):
    layout = DatasetLayout(
        dataset_name="toy",
        n_trajectories=3,
        time=np.array([0.0]),
        coords={"x": np.linspace(0, 1, 5)[:, None]},  # DeepXDE's (m, 1) trunk grid
        fields=[FieldLayout("u")],
    )
    assert layout.coords["x"].shape == (5,)
    with pytest.raises(DataFileError, match=r"time_varying=False"):
        write_dataset(tmp_path / "t.h5", layout, {"u": np.zeros((3, 5))})
    assert not list(tmp_path.glob("t.h5*"))  # a failed one-shot write leaves no .partial
    with pytest.raises(ValueError, match=r"coords\['x'\] must be the 1-D coordinates"):
        DatasetLayout("toy", 1, np.array([0.0]), {"x": np.zeros((4, 2))}, [FieldLayout("u")])


SPEC = """\
name: darcy_foreign
data:
  path: {data}
  inputs: [a]
  outputs: [u]
  n_test: 8
model: {{name: fno, n_modes: [4, 4], hidden_channels: 8, n_layers: 2}}
trainer: {{epochs: 2, batch_size: 8, progress: false}}
evaluation: {{metrics: [relative_l2], plots: false}}
"""


def test_a_neuraloperator_pt_trains_and_evaluates_zero_shot_with_the_cli_alone(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    _neuralop_pt(tmp_path / "darcy_train_16.pt", 40, 16)
    _neuralop_pt(tmp_path / "darcy_test_32.pt", 6, 32)
    for name in ("darcy_train_16", "darcy_test_32"):
        code = main(
            ["import", f"{name}.pt", "--out", f"{name}.h5", "--field", "a=x", "--field", "u=y"]
        )
        assert code == 0, capsys.readouterr().err
    (tmp_path / "spec.yaml").write_text(SPEC.format(data="darcy_train_16.h5"))
    assert main(["train", "spec.yaml", "--quiet"]) == 0, capsys.readouterr().err
    code = main(["evaluate", "runs/darcy_foreign", "--data", "darcy_test_32.h5"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "runs/darcy_foreign/eval/metrics.json").read_text())
    assert report["all"]["resolution"] == 32 and report["all"]["n_samples"] == 6
    assert report["run"]["data"] == "darcy_test_32.h5, all split"


def test_generate_explains_that_an_imported_file_has_no_recipe(tmp_path, capsys):
    (tmp_path / "spec.yaml").write_text(SPEC.format(data=tmp_path / "x.h5"))
    code = main(["generate", "--spec", str(tmp_path / "spec.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "data.dataset is not set: no recipe makes" in err
