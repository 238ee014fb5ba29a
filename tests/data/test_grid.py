"""Sample shapes, values, splits and worker safety of the datasets in ``sciml.data.grid``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciml.data.format import (
    DataFileError,
    DatasetFile,
    DatasetLayout,
    FieldLayout,
    write_dataset,
)
from sciml.data.grid import AllToAllDataset, GridPairDataset, TimeWindowDataset, split_range
from sciml.registry import DATASETS

N, T, X, Y = 10, 5, 6, 4


def _code(n, t, x, y):
    """A value that tells which trajectory, time and grid point it came from."""
    return n * 1000.0 + t * 100.0 + x * 10.0 + y


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "toy.h5"
    n, t, x, y = np.meshgrid(np.arange(N), np.arange(T), np.arange(X), np.arange(Y), indexing="ij")
    u = _code(n, t, x, y)
    layout = DatasetLayout(
        dataset_name="toy",
        n_trajectories=N,
        time=np.linspace(0.0, 0.4, T),
        coords={"x": np.linspace(0, 1, X), "y": np.linspace(0, 2, Y)},
        fields=[
            FieldLayout("u"),
            FieldLayout("vel", order=1),
            FieldLayout("a", time_varying=False),
        ],
        boundary={"x": "PERIODIC", "y": "WALL"},
        scalars={"nu": np.arange(N) * 0.5},
        dtype="float64",
    )
    arrays = {"u": u, "vel": np.stack([u, -u], axis=-1), "a": -u[:, 0]}
    return write_dataset(path, layout, arrays)


def test_split_puts_the_last_trajectories_in_the_test_set():
    assert split_range(10, "test", test_fraction=0.2) == range(8, 10)
    assert split_range(10, "train", test_fraction=0.2) == range(0, 8)
    assert split_range(10, "train", n_train=3, n_test=5) == range(0, 3)
    assert split_range(10, "test", n_train=3, n_test=5) == range(5, 10)
    assert split_range(10, "test", test_fraction=0.1, test_first=True) == range(0, 1)
    assert split_range(10, "all") == range(10)


def test_grid_pair_sample_has_documented_shapes_and_values(grid_file):
    ds = GridPairDataset(
        grid_file, ["u", "a", "nu"], ["vel"], split="test", test_fraction=0.2, dtype=torch.float64
    )
    assert len(ds) == 2
    s = ds[1]
    assert (
        s["x"].shape == (3, X, Y) and s["y"].shape == (2, X, Y) and s["coords"].shape == (2, X, Y)
    )
    n = 9  # last trajectory of the file
    x, y = np.meshgrid(np.arange(X), np.arange(Y), indexing="ij")
    np.testing.assert_array_equal(s["x"][0].numpy(), _code(n, 0, x, y))
    np.testing.assert_array_equal(s["x"][1].numpy(), -_code(n, 0, x, y))  # constant field
    np.testing.assert_array_equal(s["x"][2].numpy(), np.full((X, Y), 4.5))  # scalar nu
    np.testing.assert_array_equal(s["y"][0].numpy(), _code(n, T - 1, x, y))
    np.testing.assert_array_equal(s["y"][1].numpy(), -_code(n, T - 1, x, y))
    np.testing.assert_allclose(s["coords"][1, 0].numpy(), np.linspace(0, 2, Y))


def test_a_stride_that_does_not_divide_a_periodic_axis_is_refused(grid_file):
    """6 periodic points with stride 4 would keep x = 0, 4 and wrap with a gap of 2, not 4;
    the wall axis (4 points, stride 3 above) has no such constraint."""
    assert DatasetFile(grid_file).boundary == {"x": "PERIODIC", "y": "WALL"}
    with pytest.raises(
        DataFileError,
        match=r"\[dimensions/x\]: subsample 4 does not divide the 6 "
        r"points of the periodic axis 'x' .* use one of \[1, 2, 3, 6\]",
    ):
        GridPairDataset(grid_file, ["u"], ["u"], subsample=(4, 1))


def test_grid_pair_subsample_strides_fields_and_coordinates(grid_file):
    ds = GridPairDataset(
        grid_file, ["u"], ["u"], subsample=(2, 3), time_index_in=1, time_index_out=2
    )
    s = ds[0]
    assert s["x"].shape == (1, 3, 2) and s["coords"].shape == (2, 3, 2)
    assert float(s["x"][0, 1, 1]) == _code(0, 1, 2, 3)
    assert float(s["y"][0, 2, 0]) == _code(0, 2, 4, 0)
    assert float(s["coords"][0, 1, 0]) == pytest.approx(0.4)


def test_in_memory_dataset_returns_the_same_samples(grid_file):
    lazy = GridPairDataset(grid_file, ["u", "nu"], ["a"], split="test", n_test=3)
    mem = GridPairDataset(grid_file, ["u", "nu"], ["a"], split="test", n_test=3, in_memory=True)
    for i in range(3):
        torch.testing.assert_close(mem[i]["x"], lazy[i]["x"])
        torch.testing.assert_close(mem[i]["y"], lazy[i]["y"])


@pytest.mark.parametrize("in_memory", [False, True])
def test_time_window_sample_stacks_steps_time_major(grid_file, in_memory):
    ds = TimeWindowDataset(
        grid_file, ["u", "vel"], n_input_steps=2, n_output_steps=1, split="all", in_memory=in_memory
    )
    assert ds.windows_per_trajectory == T - 2 and len(ds) == N * (T - 2)
    s = ds[2 * (T - 2) + 1]  # trajectory 2, window starting at t=1
    assert s["x"].shape == (6, X, Y) and s["y"].shape == (3, X, Y)
    assert float(s["x"][0, 1, 2]) == _code(2, 1, 1, 2)
    assert float(s["x"][2, 1, 2]) == -_code(2, 1, 1, 2)  # second vel component, step 1
    assert float(s["x"][3, 1, 2]) == _code(2, 2, 1, 2)
    assert float(s["y"][0, 1, 2]) == _code(2, 3, 1, 2)
    assert float(s["t"]) == pytest.approx(0.3)


def test_time_window_stride_skips_stored_steps(grid_file):
    ds = TimeWindowDataset(
        grid_file, ["u"], n_input_steps=1, n_output_steps=2, stride=2, split="all"
    )
    assert ds.windows_per_trajectory == 1
    s = ds[0]
    assert [float(s["y"][k, 0, 0]) for k in range(2)] == [_code(0, 2, 0, 0), _code(0, 4, 0, 0)]


def test_all2all_pairs_cover_every_ordered_time_pair_with_lead_time(grid_file):
    ds = AllToAllDataset(grid_file, ["u"], split="train", n_train=2, n_test=2)
    assert len(ds.pairs) == T * (T + 1) // 2 and len(ds) == 2 * len(ds.pairs)
    for k in range(len(ds.pairs)):
        i, j = ds.pairs[k]
        s = ds[len(ds.pairs) + k]  # trajectory 1
        assert float(s["x"][0, 0, 0]) == _code(1, i, 0, 0) and float(s["y"][0, 0, 0]) == _code(
            1, j, 0, 0
        )
        assert float(s["dt"]) == pytest.approx(0.1 * (j - i))
    assert len(AllToAllDataset(grid_file, ["u"], max_lead=1).pairs) == T + T - 1


def test_dataloader_with_two_workers_returns_the_same_batches(grid_file):
    ds = GridPairDataset(grid_file, ["u"], ["a"], split="all")
    loader = DataLoader(ds, batch_size=3, num_workers=2)
    batches = list(loader)
    x = torch.cat([b["x"] for b in batches])
    expected = torch.stack([ds[i]["x"] for i in range(len(ds))])
    torch.testing.assert_close(x, expected)
    assert batches[0]["coords"].shape == (3, 2, X, Y)


def test_unstructured_file_gives_node_coordinates(tmp_path):
    points = np.random.default_rng(0).uniform(size=(7, 2))
    layout = DatasetLayout(
        dataset_name="cloud",
        n_trajectories=3,
        time=np.array([0.0, 1.0]),
        coords={"points": points},
        fields=[FieldLayout("u")],
        cells=np.array([[0, 1, 2]]),
    )
    u = np.arange(3 * 2 * 7, dtype=float).reshape(3, 2, 7)
    path = write_dataset(tmp_path / "cloud.h5", layout, {"u": u})
    s = GridPairDataset(path, ["u"], ["u"], split="all")[1]
    assert s["x"].shape == (1, 7) and s["coords"].shape == (2, 7)
    np.testing.assert_allclose(s["coords"].numpy(), points.T, rtol=1e-6)
    np.testing.assert_array_equal(s["y"][0].numpy(), u[1, 1])
    with pytest.raises(ValueError, match="subsample is only defined on cartesian grids"):
        GridPairDataset(path, ["u"], ["u"], subsample=2)


def test_tensors_stacks_every_sample_into_one_batch(grid_file):
    ds = GridPairDataset(grid_file, ["u"], ["a"], split="test", n_test=3)
    batch = ds.tensors()
    assert batch["x"].shape == (3, 1, X, Y) and batch["coords"].shape == (3, 2, X, Y)
    torch.testing.assert_close(batch["y"][2], ds[2]["y"])


def test_datasets_are_registered_by_name():
    assert DATASETS.get("grid_pair") is GridPairDataset
    assert DATASETS.get("time_window") is TimeWindowDataset
    assert DATASETS.get("all2all") is AllToAllDataset


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda p: GridPairDataset(p, ["w"], ["u"]),
            DataFileError,
            r"toy.h5 \[w\]: no input field 'w'",
        ),
        (lambda p: GridPairDataset(p, ["u"], ["nu"]), DataFileError, r"\[nu\]: no output field"),
        (
            lambda p: GridPairDataset(p, ["u"], ["u"], time_index_out=7),
            DataFileError,
            r"dimensions/time.*out of range",
        ),
        (
            lambda p: GridPairDataset(p, ["u"], ["u"], n_train=8, n_test=5),
            DataFileError,
            r"\[n_trajectories\]",
        ),
        (
            lambda p: GridPairDataset(p, ["u"], ["u"], split="valid"),
            ValueError,
            "split must be one of",
        ),
        (
            lambda p: GridPairDataset(p, ["u"], ["u"], subsample=(1,)),
            ValueError,
            "subsample must be 2",
        ),
        (lambda p: TimeWindowDataset(p, ["a"]), DataFileError, r"t0_fields/a\].*constant in time"),
        (
            lambda p: TimeWindowDataset(p, ["u"], n_input_steps=4, n_output_steps=2),
            DataFileError,
            "needs 6 time steps",
        ),
        (lambda p: TimeWindowDataset(p, ["u"], stride=0), ValueError, "must be >= 1"),
        (lambda p: AllToAllDataset(p, ["u"], max_lead=-1), ValueError, "max_lead must be >= 0"),
        (
            lambda p: GridPairDataset(p.with_name("nope.h5"), ["u"], ["u"]),
            DataFileError,
            "nope.h5: file not found",
        ),
    ],
)
def test_bad_dataset_arguments_name_the_file_and_key(grid_file, make, error, match):
    with pytest.raises(error, match=match):
        make(grid_file)


@pytest.mark.parametrize("test_first", [False, True])
def test_validation_split_is_the_tail_of_the_training_block_and_disjoint(test_first) -> None:
    kw = {"n_train": 8, "n_test": 3, "n_val": 2, "test_first": test_first}
    train, val, test = (split_range(20, s, **kw) for s in ("train", "val", "test"))
    assert len(train) == 6 and len(val) == 2 and len(test) == 3
    assert not set(train) & set(val) and not (set(train) | set(val)) & set(test)
    assert val.start == train.stop  # carved from the end of the training block
    assert list(split_range(20, "train", n_train=8, n_test=3, test_first=test_first)) == [
        *train,
        *val,
    ]


def test_no_validation_trajectories_means_validating_on_the_training_split() -> None:
    assert split_range(10, "val", n_val=0) == split_range(10, "train", n_val=0)


@pytest.mark.parametrize("n_val", [-1, 8])
def test_a_validation_split_that_leaves_nothing_to_train_on_is_refused(n_val) -> None:
    with pytest.raises(DataFileError, match=r"n_val=.* choose n_val in \[0, 7\]"):
        split_range(10, "val", n_val=n_val)
