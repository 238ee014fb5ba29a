"""all2all with constant input channels (data.options.constant_inputs): a time-constant forcing
appended to x at every pair, never to y; per trajectory for rollouts; in a mixture; refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetFile
from sciml.data.grid import AllToAllDataset
from sciml.data.mixture import AllToAllMixture
from sciml.data.recipes.base import generate

TINY = {"n_samples": 4, "batch_size": 4, "n_fine": 32, "n_x": 16, "t_end": 0.01, "n_t": 3,
        "dt": 0.005, "n_modes": 4}  # fmt: skip


@pytest.fixture(scope="module")
def forced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("forced") / "ns_forced.h5"
    return generate("ns_forced", path, TINY, progress=False)


def test_x_is_the_state_then_the_forcing_and_y_the_state(forced: Path) -> None:
    plain = AllToAllDataset(forced, ["velocity"], split="all")
    data = AllToAllDataset(forced, ["velocity"], constant_inputs=["forcing", "nu"], split="all")
    f = DatasetFile(forced)
    assert len(data) == len(plain) == 4 * 6
    for k in (0, 7, 23):
        sample, ref = data[k], plain[k]
        traj = k // 6
        assert sample["x"].shape == (4, 16, 16) and sample["y"].shape == (2, 16, 16)
        torch.testing.assert_close(sample["x"][:2], ref["x"])
        torch.testing.assert_close(sample["y"], ref["y"])
        torch.testing.assert_close(sample["x"][2], torch.as_tensor(f.read("forcing")[traj]))
        assert torch.all(sample["x"][3] == float(f.scalars["nu"][traj]))
        assert sample["dt"] == ref["dt"]
    torch.testing.assert_close(data.constants(1), data[6]["x"][2:])
    assert plain.constants(0).shape == (0, 16, 16)


def test_test_split_constants_follow_the_split_and_in_memory(forced: Path) -> None:
    test = AllToAllDataset(
        forced, ["velocity"], constant_inputs=["forcing"], split="test", n_test=2
    )
    cached = AllToAllDataset(
        forced, ["velocity"], constant_inputs=["forcing"], split="test", n_test=2, in_memory=True
    )
    f = DatasetFile(forced)
    np.testing.assert_allclose(test.constants(1)[0].numpy(), f.read("forcing")[3])
    torch.testing.assert_close(cached[5]["x"], test[5]["x"])
    with pytest.raises(IndexError, match="trajectory 2 out of range for 2"):
        test.constants(2)


def test_a_mixture_passes_the_option_to_every_file(forced: Path, tmp_path: Path) -> None:
    other = generate("ns_forced", tmp_path / "b.h5", {**TINY, "seed": 5}, progress=False)
    mix = AllToAllMixture(forced, ["velocity"], files=[other], constant_inputs=["forcing"])
    assert mix.constant_inputs == ["forcing"]
    assert mix[0]["x"].shape == (3, 16, 16)
    torch.testing.assert_close(mix.constants(5), mix.parts[1].constants(1))


def test_bad_constant_inputs_are_refused(forced: Path) -> None:
    with pytest.raises(DataFileError, match=r"constant input 'vorticity' varies in time"):
        AllToAllDataset(forced, ["velocity"], constant_inputs=["vorticity"])
    with pytest.raises(DataFileError, match=r"no constant input field 'forcin'; available"):
        AllToAllDataset(forced, ["velocity"], constant_inputs=["forcin"])
    with pytest.raises(ValueError, match=r"constant input 'velocity' is also a state field"):
        AllToAllDataset(forced, ["velocity"], constant_inputs=["velocity"])
    with pytest.raises(
        ValueError, match=r"constant_inputs must be a list of field names, got 'forcing'"
    ):
        AllToAllDataset(forced, ["velocity"], constant_inputs="forcing")
