"""Reading PDEBench's three HDF5 layouts (built here with h5py exactly as PDEBench writes them)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciml.data.format import DataFileError, DatasetFile
from sciml.data.grid import GridPairDataset
from sciml.data.pdebench import (
    PDEBenchPairDataset,
    PDEBenchWindowDataset,
    convert_pdebench,
    read_pdebench,
)

N, T, X, Y = 10, 5, 8, 6


def _code(n, t, x, y=0, c=0):
    """A value that tells which sample, time, point and channel it came from."""
    return n * 10000.0 + t * 1000.0 + x * 10.0 + y + c * 0.5


def _grid(*shape):
    return np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")


def _single_1d(path: Path, **overrides) -> Path:
    n, t, x = _grid(N, T, X)
    keys = {
        "tensor": _code(n, t, x).astype(np.float32),
        "x-coordinate": np.linspace(0, 1, X, dtype=np.float32),
        "t-coordinate": np.linspace(0, 2, T + 1, dtype=np.float32),
    } | overrides
    with h5py.File(path, "w") as f:
        for k, v in keys.items():
            if v is not None:
                f[k] = v
    return path


def _darcy(path: Path) -> Path:
    n, x, y = _grid(N, X, Y)
    with h5py.File(path, "w") as f:
        f["tensor"] = _code(n, 0, x, y)[:, None].astype(np.float32)  # (N, 1, X, Y)
        f["nu"] = np.where((x + y) % 2 == 0, 12.0, 3.0).astype(np.float32) + n
        f["x-coordinate"] = np.linspace(0, 1, X)
        f["y-coordinate"] = np.linspace(0, 1, Y)
    return path


def _cfd_2d(path: Path, drop: str | None = None) -> Path:
    n, t, x, y = _grid(N, T, X, Y)
    with h5py.File(path, "w") as f:
        for c, name in enumerate(("density", "pressure", "Vx", "Vy")):
            if name != drop:
                f[name] = _code(n, t, x, y, c).astype(np.float32)
        f["x-coordinate"] = np.linspace(0, 1, X)
        f["y-coordinate"] = np.linspace(0, 1, Y)
        f["t-coordinate"] = np.linspace(0, 1, T + 1)
    return path


def _per_seed_2d(path: Path, n: int = N, bad_seed: int | None = None) -> Path:
    t, x, y, c = _grid(T, X, Y, 2)
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            data = _code(i, t, x, y, c).astype(np.float32)
            g["data"] = data[:, :-1] if i == bad_seed else data
            g["grid/x"] = np.linspace(-1, 1, X)
            g["grid/y"] = np.linspace(-1, 1, Y)
            g["grid/t"] = np.linspace(0, 1, T)
    return path


def test_single_array_file_is_read_with_trimmed_time_axis(tmp_path):
    pb = read_pdebench(_single_1d(tmp_path / "adv.hdf5"))
    assert pb.layout == "single" and len(pb) == N and pb.spatial_shape == (X,)
    np.testing.assert_allclose(pb.time, np.linspace(0, 2, T + 1)[:T], rtol=1e-6)
    traj = pb.trajectory(3)
    assert traj["tensor"].shape == (T, 1, X)
    assert traj["tensor"][2, 0, 5] == _code(3, 2, 5)


def test_darcy_file_has_steady_tensor_and_coefficient_nu(tmp_path):
    pb = read_pdebench(_darcy(tmp_path / "darcy.hdf5"))
    assert pb.fields["nu"].time_varying is False and pb.spatial_dims == ["x", "y"]
    np.testing.assert_array_equal(pb.time, [0.0])
    ds = PDEBenchPairDataset(tmp_path / "darcy.hdf5", ["nu"], ["tensor"], split="train")
    assert len(ds) == N - 1  # PDEBench: the first 10 % are the test set
    s = ds[0]  # sample 1 of the file
    assert (
        s["x"].shape == (1, X, Y) and s["y"].shape == (1, X, Y) and s["coords"].shape == (2, X, Y)
    )
    assert float(s["x"][0, 0, 0]) == 13.0 and float(s["y"][0, 2, 3]) == _code(1, 0, 2, 3)
    test = PDEBenchPairDataset(tmp_path / "darcy.hdf5", ["nu"], ["tensor"], split="test")
    assert len(test) == 1 and float(test[0]["y"][0, 1, 1]) == _code(0, 0, 1, 1)


def test_cfd_fields_stack_as_channels(tmp_path):
    ds = PDEBenchPairDataset(
        _cfd_2d(tmp_path / "cfd.hdf5"),
        ["density", "pressure", "Vx", "Vy"],
        ["density", "Vy"],
        split="all",
        subsample=2,
    )
    s = ds[4]
    assert s["x"].shape == (4, X // 2, Y // 2) and s["y"].shape == (2, X // 2, Y // 2)
    assert float(s["x"][2, 1, 2]) == _code(4, 0, 2, 4, 2)
    assert float(s["y"][1, 3, 1]) == _code(4, T - 1, 6, 2, 3)


def test_window_dataset_on_single_array_file_returns_time_major_steps(tmp_path):
    ds = PDEBenchWindowDataset(
        _single_1d(tmp_path / "b.hdf5"), ["tensor"], n_input_steps=2, n_output_steps=2, split="all"
    )
    assert len(ds) == N * (T - 3)
    s = ds[(T - 3) * 2 + 1]  # sample 2, window starting at t=1
    assert s["x"].shape == (2, X) and s["y"].shape == (2, X)
    assert [float(s["x"][k, 4]) for k in range(2)] == [_code(2, 1, 4), _code(2, 2, 4)]
    assert float(s["y"][1, 4]) == _code(2, 4, 4)
    assert float(s["t"]) == pytest.approx(2 * 3 / T)


def test_per_seed_file_reads_channels_and_grid_from_groups(tmp_path):
    path = _per_seed_2d(tmp_path / "rd.h5")
    pb = read_pdebench(path)
    assert pb.layout == "per_seed" and pb.fields["data"].n_channels == 2
    np.testing.assert_allclose(pb.coords["x"], np.linspace(-1, 1, X))
    ds = PDEBenchWindowDataset(path, ["data"], split="test", test_fraction=0.2)
    assert len(ds) == 2 * (T - 1)
    s = ds[T - 1 + 2]  # sample 1, window starting at t=2
    assert s["x"].shape == (2, X, Y)
    assert float(s["x"][1, 3, 4]) == _code(1, 2, 3, 4, 1) and float(s["y"][0, 3, 4]) == _code(
        1, 3, 3, 4
    )


@pytest.mark.parametrize("make", [_darcy, _per_seed_2d])
def test_in_memory_dataset_returns_the_same_samples(tmp_path, make):
    path = make(tmp_path / "f.h5")
    names = ["nu"] if make is _darcy else ["data"]
    lazy = PDEBenchPairDataset(path, names, names, split="train", subsample=2)
    mem = PDEBenchPairDataset(path, names, names, split="train", subsample=2, in_memory=True)
    for i in (0, 4, 8):
        torch.testing.assert_close(mem[i]["x"], lazy[i]["x"])
        torch.testing.assert_close(mem[i]["y"], lazy[i]["y"])


def test_dataloader_with_two_workers_reads_per_seed_file(tmp_path):
    ds = PDEBenchPairDataset(_per_seed_2d(tmp_path / "rd.h5"), ["data"], ["data"], split="all")
    x = torch.cat([b["x"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    torch.testing.assert_close(x, torch.stack([ds[i]["x"] for i in range(len(ds))]))


def test_converted_file_gives_the_same_samples_as_the_pdebench_reader(tmp_path):
    src = _per_seed_2d(tmp_path / "rd.h5")
    dst = convert_pdebench(src, tmp_path / "rd_sciml.h5", block_size=3)
    ours = GridPairDataset(dst, ["data_0", "data_1"], ["data_1"], split="all", time_index_out=3)
    theirs = PDEBenchPairDataset(src, ["data"], ["data"], split="all", time_index_out=3)
    assert DatasetFile(dst).config["pdebench_layout"] == "per_seed"
    for i in (0, 7):
        torch.testing.assert_close(ours[i]["x"], theirs[i]["x"])
        torch.testing.assert_close(ours[i]["y"][0], theirs[i]["y"][1])
        torch.testing.assert_close(ours[i]["coords"], theirs[i]["coords"])


def _write(path: Path, keys: dict) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in keys.items():
            f[k] = v
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: _write(p, {"foo": np.zeros(3)}), r"not a PDEBench file.*found keys \['foo'\]"),
        (
            lambda p: _single_1d(p, **{"x-coordinate": None}),
            r"\[x-coordinate\]: missing coordinate axis",
        ),
        (
            lambda p: _single_1d(p, **{"x-coordinate": np.zeros(X + 1)}),
            r"\[x-coordinate\]: length 9, expected 8",
        ),
        (
            lambda p: _single_1d(p, **{"t-coordinate": np.zeros(T + 3)}),
            r"\[t-coordinate\]: length 8, expected 5 or 6",
        ),
        (
            lambda p: _single_1d(p, tensor=np.zeros((N, X))),
            r"\[tensor\]: shape \(10, 8\), expected \(N, T, X",
        ),
        (lambda p: _single_1d(p, nu=np.zeros((N, X + 1))), r"\[nu\]: shape \(10, 9\), expected"),
        (lambda p: _cfd_2d(p, drop="Vy"), r"\[Vy\]: missing compressible-CFD field of a 2D file"),
        (
            lambda p: _per_seed_2d(p, n=5, bad_seed=3),
            r"\[0003/data\]: shape \(5, 7, 6, 2\) differs",
        ),
    ],
)
def test_malformed_pdebench_files_name_the_file_and_key(tmp_path, make, match):
    path = make(tmp_path / "bad.hdf5")
    with pytest.raises(DataFileError, match=r"bad\.hdf5.*" + match):
        read_pdebench(path)


def test_nan_is_found_when_asked(tmp_path):
    path = _single_1d(tmp_path / "nan.hdf5")
    with h5py.File(path, "r+") as f:
        f["tensor"][4, 1, 2] = np.nan
    read_pdebench(path)  # the default skips the scan of a multi-GB file
    with pytest.raises(DataFileError, match=r"\[tensor\]: non-finite value .* sample 4"):
        read_pdebench(path, check_finite=True)


def test_truncated_and_non_hdf5_files_are_refused(tmp_path):
    full = _per_seed_2d(tmp_path / "full.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(full[: len(full) // 3])
    with pytest.raises(DataFileError, match=r"cut\.h5: not a readable HDF5 file"):
        read_pdebench(tmp_path / "cut.h5")
    (tmp_path / "text.hdf5").write_text("tensor,x\n1,2\n")
    with pytest.raises(DataFileError, match=r"text\.hdf5: not a readable HDF5 file"):
        read_pdebench(tmp_path / "text.hdf5")
    with pytest.raises(DataFileError, match=r"missing\.h5: file not found"):
        read_pdebench(tmp_path / "missing.h5")


def test_unknown_field_names_the_file_and_lists_the_fields(tmp_path):
    path = _darcy(tmp_path / "darcy.hdf5")
    with pytest.raises(
        DataFileError, match=r"darcy\.hdf5 \[u\]: no input field 'u'; available: \['nu', 'tensor'\]"
    ):
        PDEBenchPairDataset(path, ["u"], ["tensor"])
    with pytest.raises(DataFileError, match=r"\[nu\]: .*constant in time"):
        PDEBenchWindowDataset(path, ["nu"])
