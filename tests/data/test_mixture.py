"""all2all_mixture: the all2all pairs of several files as one dataset, split per file, the
validation trajectories shared out, a file on another time grid or grid refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.data.format import DataFileError
from sciml.data.grid import AllToAllDataset
from sciml.data.mixture import AllToAllMixture, share_out
from sciml.data.recipes.base import generate
from sciml.registry import DATASETS

TINY = {"n_samples": 5, "batch_size": 5, "n_fine": 16, "n_x": 8, "t_end": 0.04, "n_t": 3,
        "dt": 0.01, "n_modes": 3}  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mixture")
    out = {}
    # two "families": the mixture does not look at the physics, only at times and grids
    for name, extra in (("a", {}), ("b", {"n_samples": 4, "batch_size": 4, "seed": 1})):
        out[name] = generate("ns_sines", root / f"{name}.h5", {**TINY, **extra}, progress=False)
    out["other_times"] = generate("ns_sines", root / "t4.h5", {**TINY, "n_t": 5}, progress=False)
    out["other_grid"] = generate("ns_sines", root / "x4.h5", {**TINY, "n_x": 4}, progress=False)
    return out


def test_share_out_is_even_with_the_first_parts_larger():
    assert share_out(5, 2) == [3, 2]
    assert share_out(1, 3) == [1, 0, 0]
    assert share_out(0, 2) == [0, 0]
    assert sum(share_out(17, 4)) == 17


def test_the_mixture_is_the_per_file_datasets_one_after_the_other(files):
    a, b = files["a"], files["b"]
    assert DATASETS.get("all2all_mixture") is AllToAllMixture
    options = {"n_test": 1, "n_train": 3}
    mix = AllToAllMixture(a, ["velocity"], files=[b], split="train", **options)
    first = AllToAllDataset(a, ["velocity"], split="train", **options)
    second = AllToAllDataset(b, ["velocity"], split="train", **options)
    assert len(first.pairs) == 6  # 3 stored times: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2)
    assert len(mix) == len(first) + len(second) == 2 * 3 * 6
    for k in (0, len(first) - 1):
        for key in ("x", "y", "dt"):
            torch.testing.assert_close(mix[k][key], first[k][key], rtol=0, atol=0)
    for k in (0, 7, len(second) - 1):
        for key in ("x", "y", "dt"):
            torch.testing.assert_close(mix[len(first) + k][key], second[k][key], rtol=0, atol=0)
    assert mix.trajectories == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    torch.testing.assert_close(mix.trajectory(4), second.trajectory(1), rtol=0, atol=0)
    assert mix.pairs == first.pairs and torch.equal(mix.time, first.time)
    with pytest.raises(IndexError, match="trajectory 6 out of range for 6"):
        mix.trajectory(6)


def test_each_file_keeps_its_own_test_trajectories_at_its_end(files):
    a, b = files["a"], files["b"]  # 5 and 4 trajectories
    test = AllToAllMixture(a, ["velocity"], files=[b], split="test", n_test=2)
    assert test.trajectories == [(0, 3), (0, 4), (1, 2), (1, 3)]
    train = AllToAllMixture(a, ["velocity"], files=[b], split="train", n_test=2)
    assert train.trajectories == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]


def test_validation_trajectories_are_shared_out_and_leave_training(files):
    a, b = files["a"], files["b"]
    common = {"files": [b], "n_test": 1, "n_val": 3}
    train = AllToAllMixture(a, ["velocity"], split="train", **common)
    val = AllToAllMixture(a, ["velocity"], split="val", **common)
    # 4 and 3 training trajectories; 2 + 1 of them held out, from the end of each file's part
    assert val.trajectories == [(0, 2), (0, 3), (1, 2)]
    assert train.trajectories == [(0, 0), (0, 1), (1, 0), (1, 1)]
    one = AllToAllMixture(a, ["velocity"], split="val", files=[b], n_test=1, n_val=1)
    assert one.trajectories == [(0, 3)]  # the second file holds no validation trajectory
    same = AllToAllMixture(a, ["velocity"], split="val", files=[b], n_test=1, n_val=0)
    assert same.trajectories == AllToAllMixture(a, ["velocity"], files=[b], n_test=1).trajectories


def test_options_reach_every_file(files):
    mix = AllToAllMixture(files["a"], ["velocity"], files=[files["b"]], max_lead=1, n_test=1)
    assert all(part.pairs == [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)] for part in mix.parts)
    leads = sorted({round(float(mix[k]["dt"]), 6) for k in range(len(mix))})
    assert leads == pytest.approx([0.0, 0.02])


@pytest.mark.parametrize(
    ("other", "message"),
    [("other_times", "stored times .* differ"), ("other_grid", r"spatial shape \(4, 4\) differs")],
)
def test_a_file_on_another_time_grid_or_grid_is_refused(files, other, message):
    with pytest.raises(DataFileError, match=message):
        AllToAllMixture(files["a"], ["velocity"], files=[files[other]], n_test=1)


@pytest.mark.parametrize("bad", [None, [], "data/ns_gauss.h5"])
def test_files_must_be_a_non_empty_list(files, bad):
    with pytest.raises(ValueError, match="data.options.files: give a list of one or more"):
        AllToAllMixture(files["a"], ["velocity"], files=bad, n_test=1)


def test_the_task_of_a_mixture_is_time_conditioned():
    import sciml
    from sciml.tasks import task_for

    spec = sciml.load_spec(
        text="data: {path: a.h5, kind: all2all_mixture, options: {files: [b.h5]}, "
        "inputs: [velocity], outputs: [velocity]}\nmodel: {name: scot}\n"
    )
    assert task_for(spec).name == "time_conditioned"
