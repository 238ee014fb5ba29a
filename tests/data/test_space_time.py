"""The space_time dataset: a trajectory as one field on the (t, x) grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetFile
from sciml.registry import DATASETS


@pytest.fixture(scope="module")
def pme_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("st") / "pme.h5"
    overrides = {"n_samples": 5, "batch_size": 5, "n_x": 9, "n_t": 7, "split": "train"}
    generate("gpme_pme", path, overrides, progress=False)
    return path


def test_samples_are_the_trajectory_on_the_space_time_grid_with_inputs_at_t0(pme_file: Path):
    data = DATASETS.get("space_time")(
        pme_file, ["u", "m"], ["u"], split="test", n_test=2, dtype=torch.float64
    )
    file = DatasetFile(pme_file)
    assert len(data) == 2
    sample = data[1]
    u = torch.as_tensor(file.read("u")[4], dtype=torch.float64)  # (T, X), the last trajectory
    assert sample["y"].shape == (1, 7, 9) and sample["x"].shape == (2, 7, 9)
    torch.testing.assert_close(sample["y"][0], u)
    torch.testing.assert_close(sample["x"][0], u[:1].expand(7, 9))  # u(t0) at every time
    m = float(np.asarray(file.scalars["m"])[4])
    torch.testing.assert_close(sample["x"][1], torch.full((7, 9), m, dtype=torch.float64))
    t, x = sample["coords"]
    torch.testing.assert_close(
        t, torch.as_tensor(file.time, dtype=torch.float64)[:, None].expand(7, 9)
    )
    torch.testing.assert_close(
        x, torch.as_tensor(file.coords["x"], dtype=torch.float64).expand(7, 9)
    )


def test_time_stride_keeps_every_kth_time_from_the_first(pme_file: Path):
    data = DATASETS.get("space_time")(pme_file, ["m"], ["u"], split="all", time_stride=3)
    assert data[0]["y"].shape == (1, 3, 9)
    torch.testing.assert_close(
        data.time, torch.as_tensor(DatasetFile(pme_file).time, dtype=torch.float64)[::3]
    )
    torch.testing.assert_close(data[0]["coords"][0, :, 0], data.time.float())


def test_bad_options_name_the_option(pme_file: Path):
    cls = DATASETS.get("space_time")
    with pytest.raises(ValueError, match=r"time_stride must be an integer >= 1, got 0"):
        cls(pme_file, ["m"], ["u"], time_stride=0)
    with pytest.raises(DataFileError, match=r"time_stride 7 leaves 1 time"):
        cls(pme_file, ["m"], ["u"], time_stride=7)
    with pytest.raises(DataFileError, match=r"no output field 'm'"):
        cls(pme_file, ["u"], ["m"])
