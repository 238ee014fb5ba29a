"""The on-disk schema of ``sciml.data.format``: round trips, atomic and resumable writes,
compatibility with The Well's reader, and clear errors for bad files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.data.format import (
    DataFileError,
    DatasetFile,
    DatasetLayout,
    DatasetWriter,
    FieldLayout,
    file_identity,
    identity_difference,
    write_dataset,
)


def _layout(n: int = 4, t: int = 3, shape: tuple[int, ...] = (6, 5), **kwargs) -> DatasetLayout:
    names = ["x", "y", "z"][: len(shape)]
    base = {
        "dataset_name": "toy",
        "n_trajectories": n,
        "time": np.linspace(0.0, 1.0, t),
        "coords": {d: np.linspace(0.0, 1.0, s, endpoint=False) for d, s in zip(names, shape)},
        "fields": [
            FieldLayout("u"),
            FieldLayout("vel", order=1),
            FieldLayout("a", time_varying=False),
        ],
        "boundary": dict.fromkeys(names, "PERIODIC"),
        "scalars": {"nu": np.linspace(0.1, 0.4, n)},
        "config": {"nu_range": [0.1, 0.4], "solver": "toy"},
        "seed": 7,
    }
    return DatasetLayout(**(base | kwargs))


def _arrays(layout: DatasetLayout, seed: int = 0) -> dict[str, np.ndarray]:
    """Random values of every field and series of ``layout``, at their full shapes."""
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape) for name, (_, shape) in layout.datasets().items()}


@pytest.fixture
def toy_file(tmp_path: Path) -> Path:
    layout = _layout()
    return write_dataset(tmp_path / "toy.h5", layout, _arrays(layout))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 4),
    t=st.integers(1, 3),
    shape=st.lists(st.integers(2, 5), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
    series=st.sampled_from([(), ("front", "top")]),
)
def test_written_values_and_metadata_read_back_unchanged(n, t, shape, dtype, seed, series):
    layout = _layout(n, t, shape, dtype=dtype, seed=seed, series=series)
    arrays = _arrays(layout, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dataset(Path(tmp) / "rt.h5", layout, arrays)
        f = DatasetFile(path)
        assert f.n_trajectories == n and f.spatial_shape == shape
        assert f.config == layout.config and f.attrs["seed"] == seed
        np.testing.assert_allclose(f.time, layout.time, rtol=1e-6)
        np.testing.assert_allclose(f.scalars["nu"], layout.scalars["nu"], rtol=1e-6)
        assert set(f.series) == set(series) and set(f.scalars) == {"nu"}
        for name in series:
            np.testing.assert_array_equal(f.series[name], arrays[name].astype(dtype))
        for name in layout.datasets().keys() - set(series):
            assert f.fields[name].shape == arrays[name].shape
            np.testing.assert_array_equal(f.read(name), arrays[name].astype(dtype))
        f.close()


def test_series_are_time_varying_scalars_written_block_by_block(tmp_path):
    layout = _layout(series=("front",))
    arrays = _arrays(layout)
    with DatasetWriter(tmp_path / "s.h5", layout) as w:
        for start in (0, 2):
            w.write(start, {k: v[start : start + 2] for k, v in arrays.items()})
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert list(f["scalars"].attrs["field_names"]) == ["nu", "front"]
        assert f["scalars/front"].shape == (4, 3)
        assert dict(f["scalars/front"].attrs) == {"sample_varying": True, "time_varying": True}
        assert list(f.attrs["simulation_parameters"]) == ["nu"]
    np.testing.assert_array_equal(
        DatasetFile(tmp_path / "s.h5").series["front"], arrays["front"].astype("float32")
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda a: a.__setitem__("front", a["front"][:, :2]),
            r"\[scalars/front\]: got shape \(4, 2\), expected \(b, 3\)",
        ),
        (
            lambda a: a.__setitem__("front", a["front"][:3]),
            r"\[scalars/front\]: got shape \(3, 3\), expected \(b, 3\)",
        ),
        (
            lambda a: a["front"].__setitem__((2, 1), np.inf),
            r"\[scalars/front\]: non-finite value in trajectory 2 \(index \(1,\)\)",
        ),
        (
            lambda a: a.pop("front"),
            r"expected arrays for fields \['a', 'u', 'vel'\] and series \['front'\]",
        ),
    ],
)
def test_series_of_the_wrong_shape_or_non_finite_are_refused(tmp_path, change, match):
    layout = _layout(series=("front",))
    arrays = _arrays(layout)
    change(arrays)
    with pytest.raises(DataFileError, match=match):
        write_dataset(tmp_path / "bad.h5", layout, arrays)
    assert not (tmp_path / "bad.h5").exists()


@pytest.mark.parametrize("name", ["u", "nu", "front"])
def test_series_named_like_a_field_scalar_or_series_is_refused(tmp_path, name):
    layout = _layout(series=("front", name) if name == "front" else (name,))
    with pytest.raises(ValueError, match=rf"series '{name}' repeats the name"):
        write_dataset(tmp_path / "dup.h5", layout, _arrays(_layout()))


def test_failed_write_leaves_no_file_at_the_final_path_and_keeps_the_partial(tmp_path):
    layout = _layout()
    arrays = _arrays(layout)
    path = tmp_path / "atomic.h5"
    bad = {k: v[2:].copy() for k, v in arrays.items()}
    bad["u"][1, 0, 0, 0] = np.nan
    nan_error = pytest.raises(
        ValueError, match=r"\[t0_fields/u\]: non-finite value in trajectory 3"
    )
    with nan_error, DatasetWriter(path, layout) as w:
        w.write(0, {k: v[:2] for k, v in arrays.items()})
        w.write(2, bad)
    assert not path.exists()
    assert path.with_name("atomic.h5.partial").exists()
    with pytest.raises(DataFileError, match=r"file not found \(an unfinished atomic.h5.partial"):
        DatasetFile(path)


def test_interrupted_write_resumes_and_equals_an_uninterrupted_one(tmp_path):
    layout = _layout(series=("front",))
    arrays = _arrays(layout)
    blocks = [{k: v[s : s + 2] for k, v in arrays.items()} for s in (0, 2)]
    with pytest.raises(KeyboardInterrupt), DatasetWriter(tmp_path / "r.h5", layout) as w:
        w.write(0, blocks[0])
        raise KeyboardInterrupt
    with DatasetWriter(tmp_path / "r.h5", layout) as w:
        assert w.n_done == 2
        w.write(2, blocks[1])
    whole = write_dataset(tmp_path / "whole.h5", layout, arrays)
    resumed, ref = DatasetFile(tmp_path / "r.h5"), DatasetFile(whole)
    for name in ref.fields:
        np.testing.assert_array_equal(resumed.read(name), ref.read(name))
    np.testing.assert_array_equal(resumed.series["front"], ref.series["front"])
    np.testing.assert_array_equal(resumed.series["front"], arrays["front"].astype("float32"))


def test_partial_file_without_a_declared_series_starts_over(tmp_path):
    layout = _layout()
    with pytest.raises(KeyboardInterrupt), DatasetWriter(tmp_path / "o.h5", layout) as w:
        w.write(0, {k: v[:2] for k, v in _arrays(layout).items()})
        raise KeyboardInterrupt
    with_series = _layout(series=("front",))
    with DatasetWriter(tmp_path / "o.h5", with_series) as w:
        assert w.n_done == 0
        w.write(0, _arrays(with_series))
    assert set(DatasetFile(tmp_path / "o.h5").series) == {"front"}


def test_partial_file_with_a_different_config_starts_over(tmp_path):
    layout = _layout()
    arrays = _arrays(layout)
    with pytest.raises(KeyboardInterrupt), DatasetWriter(tmp_path / "c.h5", layout) as w:
        w.write(0, {k: v[:2] for k, v in arrays.items()})
        raise KeyboardInterrupt
    with DatasetWriter(tmp_path / "c.h5", _layout(config={"other": 1})) as w:
        assert w.n_done == 0
        w.write(0, arrays)


def test_writing_too_few_trajectories_is_an_error_that_keeps_the_partial(tmp_path):
    layout = _layout()
    too_few = pytest.raises(ValueError, match=r"only 2 of 4 trajectories")
    with too_few, DatasetWriter(tmp_path / "few.h5", layout) as w:
        w.write(0, {k: v[:2] for k, v in _arrays(layout).items()})
    assert (tmp_path / "few.h5.partial").exists() and not (tmp_path / "few.h5").exists()


def test_the_well_reader_opens_our_file_and_returns_our_values(tmp_path):
    from the_well.data import WellDataset

    layout = _layout(
        n=3, t=4, shape=(6, 4), boundary={"x": "PERIODIC", "y": "WALL"}, series=("front",)
    )
    arrays = _arrays(layout, seed=1)
    write_dataset(tmp_path / "toy.h5", layout, arrays)
    ds = WellDataset(path=str(tmp_path), n_steps_input=1, n_steps_output=1, use_normalization=False)
    assert len(ds) == 3 * (4 - 1)  # windows of 2 steps in each trajectory
    sample = ds[4]  # trajectory 1, input t=1, output t=2
    fields = sample["input_fields"][0].numpy()  # (X, Y, C): u, vel_x, vel_y
    np.testing.assert_allclose(fields[..., 0], arrays["u"][1, 1], rtol=1e-6)
    np.testing.assert_allclose(fields[..., 1:], arrays["vel"][1, 1], rtol=1e-6)
    out = sample["output_fields"][0].numpy()
    np.testing.assert_allclose(out[..., 0], arrays["u"][1, 2], rtol=1e-6)
    np.testing.assert_allclose(sample["constant_fields"][..., 0].numpy(), arrays["a"][1], rtol=1e-6)
    np.testing.assert_allclose(
        sample["constant_scalars"].numpy(), [layout.scalars["nu"][1]], rtol=1e-6
    )
    # time-varying scalars (our series) are The Well's input/output scalars
    np.testing.assert_allclose(
        sample["input_scalars"].numpy(), [[arrays["front"][1, 1]]], rtol=1e-6
    )
    np.testing.assert_allclose(
        sample["output_scalars"].numpy(), [[arrays["front"][1, 2]]], rtol=1e-6
    )
    assert sample["space_grid"].shape == (6, 4, 2)
    # The Well's codes: WALL = 0, OPEN = 1, PERIODIC = 2 (per dimension, both ends)
    assert sample["boundary_conditions"].tolist() == [[2, 2], [0, 0]]


def _edit(path: Path, action) -> Path:
    with h5py.File(path, "r+") as f:
        action(f)
    return path


def _replace_u_with_wrong_shape(f: h5py.File) -> None:
    del f["t0_fields/u"]
    f["t0_fields"].create_dataset("u", data=np.zeros((4, 3, 6, 4)))


def _put_nan_in_u(f: h5py.File) -> None:
    f["t0_fields/u"][2, 1, 3, 0] = np.nan


def _add_series(values: np.ndarray):
    def action(f: h5py.File) -> None:
        ds = f["scalars"].create_dataset("front", data=values)
        ds.attrs["sample_varying"] = True
        ds.attrs["time_varying"] = True
        f["scalars"].attrs["field_names"] = ["nu", "front"]

    return action


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (lambda f: f.__delitem__("dimensions"), r"\[dimensions\]: missing group of coordinates"),
        (lambda f: f.__delitem__("dimensions/y"), r"\[dimensions/y\]: missing coordinate axis"),
        (lambda f: f.__delitem__("t0_fields/u"), r"\[t0_fields/u\]: missing field listed"),
        (lambda f: f.attrs.__delitem__("grid_type"), r"\[grid_type\]: missing root attribute"),
        (lambda f: f.attrs.__setitem__("n_spatial_dims", 3), r"n_spatial_dims=3 but dimensions"),
        (
            _replace_u_with_wrong_shape,
            r"\[t0_fields/u\]: shape \(4, 3, 6, 4\) does not match.*\(4, 3, 6, 5\)",
        ),
        (
            _put_nan_in_u,
            r"\[t0_fields/u\]: non-finite value .* in trajectory 2 at index \(1, 3, 0\)",
        ),
        (lambda f: f.attrs.__setitem__("complete", False), r"marked incomplete"),
        (
            _add_series(np.zeros((4, 2))),
            r"\[scalars/front\]: time-varying scalar of shape \(4, 2\), expected \(4, 3\)",
        ),
        (
            _add_series(np.where(np.arange(12).reshape(4, 3) == 5, np.nan, 0.0)),
            r"\[scalars/front\]: non-finite value .* in trajectory 1 at time index 2",
        ),
    ],
)
def test_corrupt_files_are_refused_naming_file_and_key(toy_file, action, match):
    _edit(toy_file, action)
    with pytest.raises(DataFileError, match=r"toy\.h5.*" + match):
        DatasetFile(toy_file)


def test_truncated_file_is_refused_naming_the_file(toy_file, tmp_path):
    data = toy_file.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"cut\.h5: not a readable HDF5 file"):
        DatasetFile(cut)


def test_non_hdf5_file_is_refused_naming_the_file(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("these are not the arrays you are looking for\n")
    with pytest.raises(DataFileError, match=r"notes\.h5: not a readable HDF5 file"):
        DatasetFile(text)


def test_unknown_field_lists_the_fields_in_the_file(toy_file):
    with pytest.raises(
        DataFileError, match=r"no field 'p'; fields in this file: \['a', 'u', 'vel'\]"
    ):
        DatasetFile(toy_file).field("p")


def test_output_folder_that_cannot_be_created_is_refused(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(DataFileError, match=r"out\.h5: cannot create the output folder"):
        write_dataset(tmp_path / "a_file" / "sub" / "out.h5", _layout(), _arrays(_layout()))


def test_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    # the tests may run as root, for whom chmod does not stop writes: emulate the permission check
    monkeypatch.setattr("sciml.data.format.os.access", lambda path, mode: False)
    with pytest.raises(DataFileError, match=r"out\.h5: output folder .* is not writable"):
        write_dataset(tmp_path / "out.h5", _layout(), _arrays(_layout()))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("vel"), r"expected arrays for fields \['a', 'u', 'vel'\]"),
        (
            lambda a: a.__setitem__("u", a["u"][:, :2]),
            r"\[t0_fields/u\]: got shape \(4, 2, 6, 5\), expected \(b, 3, 6, 5\)",
        ),
    ],
)
def test_writing_arrays_that_do_not_match_the_layout_is_refused(tmp_path, change, match):
    layout = _layout()
    arrays = _arrays(layout)
    change(arrays)
    with pytest.raises(ValueError, match=match):
        write_dataset(tmp_path / "bad.h5", layout, arrays)
    assert not (tmp_path / "bad.h5").exists()


def test_file_identity_tells_regenerated_files_apart_from_metadata(tmp_path):
    import h5py

    path = tmp_path / "any.h5"
    with h5py.File(path, "w") as f:  # any HDF5 file, e.g. a PDEBench one without our attributes
        f.attrs["seed"] = 0
        f.create_dataset("tensor", data=np.zeros((4, 8), np.float32))
    before = file_identity(path)
    assert before == {"attrs": {"seed": 0}, "arrays": {"tensor": [[4, 8], "float32"]}}
    assert identity_difference(before, file_identity(path)) is None
    with h5py.File(path, "w") as f:
        f.attrs["seed"] = 0
        f.create_dataset("tensor", data=np.zeros((5, 8), np.float32))
    assert identity_difference(before, file_identity(path)) == (
        "array 'tensor' was [[4, 8], 'float32'], is [[5, 8], 'float32']"
    )
    path.unlink()
    assert file_identity(path) == {}
    assert identity_difference(before, {}) == "the file is gone"
