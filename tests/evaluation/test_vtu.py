"""Evaluated predictions as ParaView files: grid cells, per-sample grids, particle rollouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.mesh import read_mesh
from sciml.data.particle_vtu import read_particle_series
from sciml.evaluation.vtu import grid_cells, write_grid_samples, write_particle_rollout


def _measure(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Signed length / area / volume of each line, quad or hexahedron (corner formula)."""
    c = points[cells]
    if cells.shape[1] == 2:
        return c[:, 1, 0] - c[:, 0, 0]
    if cells.shape[1] == 4:  # shoelace
        x, y = c[..., 0], c[..., 1]
        return 0.5 * (x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)
    # a rectangular hexahedron: edges from node 0 to nodes 1, 3, 4 (VTK order)
    e = c[:, [1, 3, 4]] - c[:, [0]]
    return np.linalg.det(e)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (3, 4, 2)])
def test_grid_cells_tile_the_grid_with_positive_cells(shape) -> None:
    axes = [np.cumsum(np.arange(1, s + 1)) * 0.1 for s in shape]  # non-uniform spacing
    points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(shape))
    cells = grid_cells(shape)
    assert cells.shape == (int(np.prod([s - 1 for s in shape])), 2 ** len(shape))
    measure = _measure(points, cells)
    assert (measure > 0).all()
    # the cells cover the bounding box exactly once
    np.testing.assert_allclose(measure.sum(), np.prod([a[-1] - a[0] for a in axes]))


def test_grid_cells_refuse_a_degenerate_grid() -> None:
    with pytest.raises(ValueError, match="at least 2 points"):
        grid_cells((4, 1))


def test_grid_samples_read_back_with_prediction_truth_and_error(tmp_path) -> None:
    x, y = torch.meshgrid(torch.linspace(0, 1, 5), torch.linspace(0, 2, 4), indexing="ij")
    coords = torch.stack([x, y])  # (2, 5, 4)
    pred, target = torch.rand(3, 2, 5, 4), torch.rand(3, 2, 5, 4)
    pvd = write_grid_samples(tmp_path, pred, target, coords)
    assert pvd.name == "samples.pvd" and "sample_0002.vtu" in pvd.read_text()
    points, cells, data, _ = read_mesh(tmp_path / "sample_0001.vtu")
    np.testing.assert_allclose(points[:, :2], coords.reshape(2, -1).T.numpy(), atol=1e-7)
    assert cells["quad"].shape == (12, 4)
    np.testing.assert_allclose(data["prediction"], pred[1].reshape(2, -1).T.numpy(), rtol=1e-6)
    np.testing.assert_allclose(data["truth"], target[1].reshape(2, -1).T.numpy(), rtol=1e-6)
    np.testing.assert_allclose(data["error"], data["prediction"] - data["truth"], atol=1e-7)


def test_scattered_samples_are_point_clouds(tmp_path) -> None:
    coords = torch.rand(2, 7)  # (d, P) points of an unstructured set
    write_grid_samples(tmp_path, torch.ones(1, 1, 7), torch.zeros(1, 1, 7), coords, scattered=True)
    _, cells, data, _ = read_mesh(tmp_path / "sample_0000.vtu")
    assert set(cells) == {"vertex"} and data["error"].ravel().tolist() == [1.0] * 7


def test_grid_samples_refuse_mismatched_shapes(tmp_path) -> None:
    with pytest.raises(ValueError, match="same"):
        write_grid_samples(tmp_path, torch.rand(1, 1, 4), torch.rand(1, 1, 5), torch.rand(1, 4))
    with pytest.raises(ValueError, match="do not match"):
        write_grid_samples(tmp_path, torch.rand(1, 1, 4), torch.rand(1, 1, 4), torch.rand(1, 5))


def test_particle_rollout_reads_back_with_displacement_and_error(tmp_path) -> None:
    truth = torch.rand(4, 6, 2, dtype=torch.float64)
    pred = truth + 0.01
    reference = torch.zeros(6, 2, dtype=torch.float64)
    files = write_particle_rollout(tmp_path, pred, truth, torch.arange(4) * 0.1, reference)
    times, x, data = read_particle_series(files["prediction"])
    np.testing.assert_allclose(times, [0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(x[..., :2], pred.numpy())
    np.testing.assert_allclose(data["error"], np.full((4, 6), 0.01 * np.sqrt(2)))
    np.testing.assert_allclose(data["displacement"][..., :2], pred.numpy())
    _, x_true, _ = read_particle_series(files["truth"])
    np.testing.assert_allclose(x_true[..., :2], truth.numpy())
    with pytest.raises(ValueError, match=r"\(T, P, d\)"):
        write_particle_rollout(tmp_path, pred[0], truth[0], torch.zeros(6), reference)
