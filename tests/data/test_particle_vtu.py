"""Particle series for ParaView: .vtu frames + .pvd collection, read back through meshio."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import meshio
import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError
from sciml.data.particle_vtu import read_particle_series, write_particle_series


@pytest.mark.parametrize("dim", [2, 3])
def test_series_round_trip_with_times_and_point_data(tmp_path, dim: int) -> None:
    gen = np.random.default_rng(0)
    x = gen.random((4, 30, dim))
    velocity = torch.as_tensor(gen.random((4, 30, dim)))  # tensors are accepted
    flag = (np.arange(30) % 3 == 0).astype(np.int32)  # constant in time
    pvd = write_particle_series(
        tmp_path / "out",
        x,
        times=[0.0, 0.5, 1.0, 1.5],
        point_data={"velocity": velocity, "sampled": flag},
        name="run",
    )
    assert pvd == tmp_path / "out" / "run.pvd"
    assert sorted(p.name for p in pvd.parent.glob("*.vtu")) == [
        f"run_{k:04d}.vtu" for k in range(4)
    ]
    # the collection names each frame with its time, relative to the .pvd
    entries = ET.parse(pvd).getroot().findall("./Collection/DataSet")
    assert [(e.get("file"), float(e.get("timestep"))) for e in entries] == [
        (f"run_{k:04d}.vtu", 0.5 * k) for k in range(4)
    ]
    # each frame is a meshio point cloud (vertex cells)
    frame = meshio.read(pvd.parent / "run_0002.vtu")
    assert frame.cells[0].type == "vertex" and len(frame.cells[0].data) == 30
    times, points, data = read_particle_series(pvd)
    np.testing.assert_allclose(times, [0.0, 0.5, 1.0, 1.5])
    assert points.shape == (4, 30, 3)
    np.testing.assert_allclose(points[..., :dim], x)
    np.testing.assert_allclose(data["velocity"][..., :dim], velocity.numpy())
    np.testing.assert_array_equal(data["sampled"], np.broadcast_to(flag, (4, 30)))


def test_default_times_are_frame_numbers(tmp_path) -> None:
    pvd = write_particle_series(tmp_path, np.zeros((3, 5, 2)))
    times, points, data = read_particle_series(pvd)
    np.testing.assert_array_equal(times, [0.0, 1.0, 2.0])
    assert points.shape == (3, 5, 3) and data == {}


def test_bad_shapes_name_the_argument(tmp_path) -> None:
    x = np.zeros((3, 5, 2))
    with pytest.raises(ValueError, match=r"positions must be \(T, P, d\)"):
        write_particle_series(tmp_path, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="times must hold one value per frame"):
        write_particle_series(tmp_path, x, times=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"point_data\['v'\]"):
        write_particle_series(tmp_path, x, point_data={"v": np.zeros((4, 5))})


def test_a_file_that_is_not_a_collection_is_an_error(tmp_path) -> None:
    bad = tmp_path / "x.pvd"
    bad.write_text("<VTKFile type='UnstructuredGrid'/>")
    with pytest.raises(DataFileError, match="not a VTK Collection"):
        read_particle_series(bad)
    bad.write_text("not xml")
    with pytest.raises(DataFileError, match="not a readable .pvd"):
        read_particle_series(bad)
