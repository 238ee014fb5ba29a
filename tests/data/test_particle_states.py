"""ParticleTrajectoryDataset: whole MPM trajectories with their state, splits and horizons."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.data.format import DataFileError
from sciml.data.particle_states import STATE_KEYS, ParticleTrajectoryDataset
from sciml.data.recipes.base import generate

SMALL = {
    "particles_per_side": 4,
    "grid_n": 16,
    "dt": 1e-3,
    "n_steps": 6,
    "save_every": 2,
    "materials": ["jelly"],
}


@pytest.fixture(scope="module")
def with_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mpm") / "state.h5"
    return generate("mpm2d", path, {**SMALL, "n_samples": 3, "save_state": True}, progress=False)


@pytest.fixture(scope="module")
def positions_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mpm") / "plain.h5"
    return generate("mpm2d", path, {**SMALL, "n_samples": 1}, progress=False)


def test_samples_hold_the_full_state_of_every_frame(with_state: Path) -> None:
    ds = ParticleTrajectoryDataset(with_state, split="train", n_test=1, dtype=torch.float64)
    assert len(ds) == 2 and ds.has_state
    s = ds[1]
    assert set(s) == {*STATE_KEYS, "y"}
    t, p = 4, 16
    assert s["position"].shape == (t, p, 2) and s["velocity"].shape == (t, p, 2)
    assert s["affine"].shape == (t, p, 2, 2) and s["deformation"].shape == (t, p, 2, 2)
    assert s["mass"].shape == (p,) and s["volume"].shape == (p,)
    torch.testing.assert_close(s["y"], s["position"][1:])
    torch.testing.assert_close(
        s["deformation"][0], torch.eye(2, dtype=torch.float64).expand(p, 2, 2)
    )


def test_training_horizon_is_cut_and_the_test_split_keeps_the_whole_one(with_state: Path) -> None:
    train = ParticleTrajectoryDataset(with_state, split="train", n_test=1, n_frames=2)
    test = ParticleTrajectoryDataset(with_state, split="test", n_test=1, n_frames=2)
    assert train[0]["position"].shape[0] == 2 and train[0]["y"].shape[0] == 1
    assert test[0]["position"].shape[0] == 4
    assert list(test.trajectories) == [2]
    everything = ParticleTrajectoryDataset(with_state, split="all", n_frames=2)
    assert everything[0]["position"].shape[0] == 4


def test_a_single_trajectory_file_is_its_own_test_split(positions_only: Path) -> None:
    train = ParticleTrajectoryDataset(positions_only, split="train")
    test = ParticleTrajectoryDataset(positions_only, split="test")
    assert list(train.trajectories) == list(test.trajectories) == [0]
    assert list(ParticleTrajectoryDataset(positions_only, n_train=1).trajectories) == [0]


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("key", ["n_train", "n_test"])
def test_a_split_size_a_single_trajectory_file_cannot_have_is_refused(
    positions_only: Path, split: str, key: str
) -> None:
    with pytest.raises(DataFileError, match=f"{key}=5, but the file holds one trajectory"):
        ParticleTrajectoryDataset(positions_only, split=split, **{key: 5})


def test_without_saved_state_only_the_initial_state_is_given(positions_only: Path) -> None:
    ds = ParticleTrajectoryDataset(positions_only)
    assert not ds.has_state
    s = ds[0]
    assert s["affine"].shape == (1, 16, 2, 2)
    assert torch.equal(s["affine"], torch.zeros_like(s["affine"]))
    assert torch.equal(s["deformation"][0], torch.eye(2).expand(16, 2, 2))


def test_stacked_tensors_batch_every_trajectory(with_state: Path) -> None:
    ds = ParticleTrajectoryDataset(with_state, split="all")
    batch = ds.tensors()
    assert batch["position"].shape == (3, 4, 16, 2) and batch["mass"].shape == (3, 16)


def test_a_grid_file_is_refused_with_the_missing_fields(poisson_file: Path) -> None:
    with pytest.raises(DataFileError, match=r"not an MPM particle file: fields .*'position'"):
        ParticleTrajectoryDataset(poisson_file)


def test_out_of_range_horizon_names_the_frames(with_state: Path) -> None:
    with pytest.raises(DataFileError, match=r"n_frames=9 must be in \[2, 4\]"):
        ParticleTrajectoryDataset(with_state, n_frames=9)
