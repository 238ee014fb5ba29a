"""The space_time_points dataset: context/target point sets drawn from a (t, x) grid file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetFile
from sciml.registry import DATASETS


@pytest.fixture(scope="module")
def stefan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("ps") / "stefan.h5"
    overrides = {"n_samples": 6, "batch_size": 6, "n_x": 17, "n_t": 12, "split": "train"}
    generate("gpme_stefan", path, overrides, progress=False)
    return path


def _open(path: Path, **options):
    options = {"split": "train", "n_test": 2, "dtype": torch.float64, **options}
    return DATASETS.get("space_time_points")(path, ["u_star"], ["u"], **options)


def test_drawn_sets_are_stratified_times_by_sorted_positions_with_the_files_values(stefan_file):
    data = _open(stefan_file, context_points=(4, 5), target_points=(3, 6))
    file = DatasetFile(stefan_file)
    time, x = np.asarray(file.time), np.asarray(file.coords["x"])
    u = np.asarray(file.field("u")[: len(data)])
    assert data.targets == "sampled" and len(data) == 4
    sample = data[1]
    assert sample["context_x"].shape == (20, 2) and sample["context_y"].shape == (20, 1)
    assert sample["target_x"].shape == (18, 2) and sample["y"].shape == (18, 1)
    assert float(sample["u_star"]) == pytest.approx(float(file.scalars["u_star"][1]))
    points = sample["context_x"].reshape(4, 5, 2)
    it = np.searchsorted(time, points[:, 0, 0].numpy())
    ix = np.searchsorted(x, points[0, :, 1].numpy())
    # one time in each of 4 blocks of the 12 stored times; the same sorted, distinct positions
    assert list(it // 3) == [0, 1, 2, 3]
    assert (np.diff(ix) > 0).all()
    assert torch.equal(points[..., 1], points[:1, :, 1].expand(4, 5))
    expected = u[1][np.ix_(it, ix)].reshape(-1, 1)
    np.testing.assert_allclose(sample["context_y"].numpy(), expected, rtol=1e-7)
    # fixed per (seed, trajectory): the same sample twice, another seed draws other points
    assert torch.equal(data[1]["target_x"], sample["target_x"])
    assert not torch.equal(_open(stefan_file, seed=1)[1]["context_x"], data[1]["context_x"])


def test_test_split_targets_every_grid_point_t_major_with_the_space_time_coords(stefan_file):
    data = _open(stefan_file, split="test")
    assert data.targets == "grid"
    sample = data[0]
    u = torch.as_tensor(np.asarray(DatasetFile(stefan_file).field("u")[4]), dtype=torch.float64)
    assert sample["target_x"].shape == (12 * 17, 2) and sample["coords"].shape == (2, 12, 17)
    torch.testing.assert_close(sample["y"].reshape(12, 17), u)
    torch.testing.assert_close(
        sample["target_x"].reshape(12, 17, 2), sample["coords"].movedim(0, -1)
    )
    # the context of a test function is still a drawn set
    assert sample["context_x"].shape == (100, 2) and data.context_points == (10, 10)


def test_bad_options_name_the_option(stefan_file):
    with pytest.raises(ValueError, match=r"targets must be one of \['sampled', 'grid'\]"):
        _open(stefan_file, targets="all")
    with pytest.raises(ValueError, match=r"context_points must be \[n_t, n_s\], 1 <= n_t <= 12"):
        _open(stefan_file, context_points=(13, 5))
    with pytest.raises(ValueError, match=r"target_points must be \[n_t, n_s\]"):
        _open(stefan_file, target_points=(2,))
    with pytest.raises(DataFileError, match=r"inputs \['u'\] are not per-trajectory scalars"):
        DATASETS.get("space_time_points")(stefan_file, ["u"], ["u"], n_test=2)
    with pytest.raises(DataFileError, match="no output field 'v'"):
        DATASETS.get("space_time_points")(stefan_file, [], ["v"], n_test=2)
