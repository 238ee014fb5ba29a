"""Round trips and errors of the meshio bridge ``sciml.data.mesh``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.data.format import DataFileError
from sciml.data.mesh import (
    read_mesh,
    read_xdmf_series,
    write_point_cloud_vtu,
    write_vtu,
    write_xdmf_series,
)


def _unit_square(n: int = 3):
    """Triangulation of [0, 1]^2 with n x n nodes: points (n^2, 2), cells (2 (n-1)^2, 3)."""
    x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    points = np.stack([x.ravel(), y.ravel()], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = (
        idx[:-1, :-1].ravel(),
        idx[1:, :-1].ravel(),
        idx[1:, 1:].ravel(),
        idx[:-1, 1:].ravel(),
    )
    cells = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return points, cells


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 5), seed=st.integers(0, 1000))
def test_vtu_round_trip_keeps_points_cells_and_data(tmp_path_factory, n, seed):
    rng = np.random.default_rng(seed)
    points, cells = _unit_square(n)
    temp = rng.normal(size=len(points))
    vel = rng.normal(size=(len(points), 2))
    pressure = rng.normal(size=len(cells))
    path = tmp_path_factory.mktemp("vtu") / "mesh.vtu"
    write_vtu(path, torch.from_numpy(points), cells, {"T": temp, "v": vel}, {"p": pressure})
    pts, cell_blocks, pdata, cdata = read_mesh(path)
    np.testing.assert_allclose(pts[:, :2], points)
    np.testing.assert_array_equal(pts[:, 2], 0.0)
    np.testing.assert_array_equal(cell_blocks["triangle"], cells)
    np.testing.assert_allclose(pdata["T"], temp)
    np.testing.assert_allclose(pdata["v"], vel)
    np.testing.assert_allclose(cdata["p"]["triangle"], pressure)


def test_mixed_cell_blocks_round_trip(tmp_path):
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=float)
    cells = {"tetra": np.array([[0, 1, 2, 3]]), "triangle": np.array([[1, 2, 4], [0, 1, 4]])}
    cell_data = {"id": {"tetra": np.array([7.0]), "triangle": np.array([1.0, 2.0])}}
    write_vtu(tmp_path / "mixed.vtu", points, cells, cell_data=cell_data)
    _, blocks, _, cdata = read_mesh(tmp_path / "mixed.vtu")
    np.testing.assert_array_equal(blocks["tetra"], cells["tetra"])
    np.testing.assert_array_equal(cdata["id"]["triangle"], [1.0, 2.0])


def test_point_cloud_is_written_as_vertex_cells(tmp_path):
    positions = np.random.default_rng(0).uniform(size=(20, 3))
    write_point_cloud_vtu(tmp_path / "particles.vtu", positions, {"mass": np.arange(20.0)})
    pts, cells, pdata, _ = read_mesh(tmp_path / "particles.vtu")
    np.testing.assert_allclose(pts, positions)
    np.testing.assert_array_equal(cells["vertex"].ravel(), np.arange(20))
    np.testing.assert_array_equal(pdata["mass"], np.arange(20.0))


def test_xdmf_series_round_trip_with_sidecar_next_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # meshio alone would put the .h5 in the working directory
    out = tmp_path / "out"
    out.mkdir()
    points, cells = _unit_square(4)
    times = np.array([0.0, 0.5, 1.0])
    u = np.random.default_rng(1).normal(size=(3, len(points)))
    write_xdmf_series(out / "series.xdmf", points, cells, times, {"u": u})
    assert sorted(p.name for p in out.iterdir()) == ["series.h5", "series.xdmf"]
    assert not (tmp_path / "series.h5").exists()
    pts, blocks, t, data = read_xdmf_series(out / "series.xdmf")
    np.testing.assert_allclose(t, times)
    np.testing.assert_allclose(data["u"], u)
    np.testing.assert_array_equal(blocks["triangle"], cells)
    np.testing.assert_allclose(pts[:, :2], points)


def test_failed_write_leaves_nothing_at_the_final_path(tmp_path, monkeypatch):
    points, cells = _unit_square(3)

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sciml.data.mesh.meshio.write", broken_write)
    with pytest.raises(DataFileError, match=r"m\.vtu: cannot write the file: disk full"):
        write_vtu(tmp_path / "m.vtu", points, cells)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"point_data": {"T": np.zeros(5)}},
            r"point_data\['T'\] has shape \(5,\), expected \(9, ...\)",
        ),
        (
            {"cell_data": {"p": np.zeros(3)}},
            r"cell_data\['p'\] has shape \(3,\), expected \(8, ...\)",
        ),
        (
            {"cells": np.array([[0, 1, 99]])},
            r"cells\['triangle'\] must be \(E, k\) indices into the 9",
        ),
        ({"cells": np.zeros((2, 5), dtype=int)}, "cannot infer the cell type of 5-node cells"),
        ({"points": np.zeros((9, 4))}, r"points must have shape \(P, d\)"),
        ({"cell_data": {"p": {"quad": np.zeros(8)}}}, r"cell_data\['p'\] must give values for"),
    ],
)
def test_inconsistent_mesh_data_is_refused_naming_file_and_key(tmp_path, kwargs, match):
    points, cells = _unit_square(3)
    args = {"points": points, "cells": cells} | kwargs
    with pytest.raises(ValueError, match=r"bad\.vtu: " + match):
        write_vtu(tmp_path / "bad.vtu", **args)


def test_missing_corrupt_and_unwritable_files_name_the_file(tmp_path):
    with pytest.raises(DataFileError, match=r"nope\.vtu: file not found"):
        read_mesh(tmp_path / "nope.vtu")
    (tmp_path / "junk.vtu").write_text("<VTKFile><oops")
    with pytest.raises(DataFileError, match=r"junk\.vtu: not a readable mesh file"):
        read_mesh(tmp_path / "junk.vtu")
    points, cells = _unit_square(3)
    write_xdmf_series(tmp_path / "s.xdmf", points, cells, [0.0], {"u": np.zeros((1, 9))})
    (tmp_path / "s.h5").unlink()
    with pytest.raises(
        DataFileError, match=r"s\.xdmf: not a readable XDMF time series \(its data file s\.h5"
    ):
        read_xdmf_series(tmp_path / "s.xdmf")
    with pytest.raises(DataFileError, match=r"m\.vtu: output folder .* does not exist"):
        write_vtu(tmp_path / "missing" / "m.vtu", points, cells)
    with pytest.raises(ValueError, match=r"s\.vtu: an XDMF time series needs the suffix \.xdmf"):
        write_xdmf_series(tmp_path / "s.vtu", points, cells, [0.0], {"u": np.zeros((1, 9))})
    with pytest.raises(
        ValueError, match=r"point_data_series\['u'\] has shape \(2, 9\), expected \(n_t=1"
    ):
        write_xdmf_series(tmp_path / "t.xdmf", points, cells, [0.0], {"u": np.zeros((2, 9))})
