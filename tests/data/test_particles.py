"""Particle windows: shapes, finite-difference targets, normalization statistics, file reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetLayout, FieldLayout, write_dataset
from sciml.data.particles import ParticleStats, ParticleWindowDataset, read_positions


def _ballistic(n: int = 2, T: int = 12, P: int = 5, d: int = 2) -> torch.Tensor:
    """``(n, T, P, d)`` particles with constant acceleration: x = x0 + v0 t + ½ g t²."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(n, 1, P, d, generator=gen, dtype=torch.float64)
    v0 = 0.01 * torch.randn(n, 1, P, d, generator=gen, dtype=torch.float64)
    g = torch.zeros(d, dtype=torch.float64)
    g[-1] = -1e-3
    t = torch.arange(T, dtype=torch.float64)[None, :, None, None]
    return x0 + v0 * t + 0.5 * g * t**2


@pytest.mark.parametrize("stride", [1, 2])
def test_windows_hold_the_history_and_the_normalized_second_difference(stride: int) -> None:
    x = _ballistic()
    ds = ParticleWindowDataset(x, history=3, stride=stride)
    assert len(ds) == 2 * (12 - 4 * stride)
    item = ds[len(ds) - 1]  # last window of trajectory 1
    assert item["x"].shape == (5, 4, 2) and item["y"].shape == (5, 2)
    t = 12 - 1 - stride
    expected = x[1, t - 3 * stride : t + 1 : stride].transpose(0, 1)
    assert torch.equal(item["x"], expected)
    # Constant acceleration: g s² per model step (position units per frame²).
    g = torch.tensor([0.0, -1e-3 * stride**2], dtype=torch.float64)
    assert torch.allclose(ds.stats.acceleration_mean, g)
    acc = item["y"] * ds.stats.acceleration_std + ds.stats.acceleration_mean
    assert torch.allclose(acc, g.expand(5, 2), atol=1e-12)


def test_batched_indexing_matches_single_items() -> None:
    ds = ParticleWindowDataset(_ballistic(d=3), history=2)
    batch = ds.__getitems__([0, 7, 3])
    assert batch["x"].shape == (3, 5, 3, 3) and batch["y"].shape == (3, 5, 3)
    for row, i in enumerate([0, 7, 3]):
        assert torch.equal(batch["x"][row], ds[i]["x"])
        assert torch.equal(batch["y"][row], ds[i]["y"])
    with pytest.raises(IndexError):
        ds.__getitems__([len(ds)])


def test_stats_are_those_of_all_velocities_and_accelerations_plus_noise() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 10, 4, 2, generator=gen, dtype=torch.float64)
    s = ParticleStats.fit(x, stride=1, noise_std=0.5)
    v = (x[:, 1:] - x[:, :-1]).reshape(-1, 2)
    a = (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]).reshape(-1, 2)
    assert torch.allclose(s.velocity_mean, v.mean(0))
    assert torch.allclose(s.velocity_std, (v.var(0, correction=0) + 0.25).sqrt())
    assert torch.allclose(s.acceleration_std, (a.var(0, correction=0) + 0.25).sqrt())
    val = ParticleWindowDataset(x, history=2, stats=s)
    assert val.stats is s


def test_too_short_trajectories_are_rejected() -> None:
    with pytest.raises(ValueError, match="too short"):
        ParticleWindowDataset(_ballistic(T=5), history=4)
    with pytest.raises(ValueError, match=r"\(N, T, P, d\)"):
        ParticleWindowDataset(torch.zeros(5, 3, 2))


def test_reads_positions_of_selected_trajectories_from_a_file(tmp_path) -> None:
    x = _ballistic(n=3, T=8, P=6).numpy()
    layout = DatasetLayout(
        dataset_name="mpm2d",
        n_trajectories=3,
        time=np.arange(8) * 0.01,
        coords={"points": np.zeros((6, 2))},
        fields=[FieldLayout("position", order=1)],
    )
    path = write_dataset(tmp_path / "p.h5", layout, {"position": x})
    pos = read_positions(path, [2], n_frames=5)
    assert pos.dtype == torch.float64 and pos.shape == (1, 5, 6, 2)
    assert torch.allclose(pos[0], torch.from_numpy(x[2, :5]), atol=1e-7)
    ds = ParticleWindowDataset.from_file(path, [0, 1], history=2)
    assert len(ds) == 2 * (8 - 3)
