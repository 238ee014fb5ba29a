"""all2all_mixture: the all2all pairs of several files as one dataset, split per file, the
validation trajectories shared out, a file on another time grid or grid refused; families with
other fields padded to one channel layout with a per-family channel mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetLayout, FieldLayout, write_dataset
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


def _toy(path: Path, fields: list[FieldLayout], n: int = 3, seed: int = 0) -> Path:
    """A 3-trajectory file on a 4 x 4 grid, 3 times, with random values of ``fields``."""
    layout = DatasetLayout(
        dataset_name="toy",
        n_trajectories=n,
        time=np.linspace(0.0, 0.2, 3),
        coords={d: np.linspace(0.0, 1.0, 4, endpoint=False) for d in ("x", "y")},
        fields=fields,
        boundary=dict.fromkeys(("x", "y"), "PERIODIC"),
    )
    rng = np.random.default_rng(seed)
    arrays = {name: rng.normal(size=shape) for name, (_, shape) in layout.datasets().items()}
    return write_dataset(path, layout, arrays)


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {
        "flow": _toy(root / "flow.h5", [FieldLayout("vel", order=1)]),
        "tracer": _toy(root / "tracer.h5", [FieldLayout("vel", order=1), FieldLayout("c")], seed=1),
        "scalar_vel": _toy(root / "scalar_vel.h5", [FieldLayout("vel")], seed=2),
        "other": _toy(root / "other.h5", [FieldLayout("p")], seed=3),
    }


def test_a_family_without_a_field_gets_its_fill_value_and_a_channel_mask(families):
    flow, tracer = families["flow"], families["tracer"]
    mix = AllToAllMixture(
        flow, ["vel", "c"], files=[tracer], n_test=1, fill={"c": 0.5}, split="train"
    )
    alone = AllToAllDataset(flow, ["vel"], n_test=1)
    full = AllToAllDataset(tracer, ["vel", "c"], n_test=1)
    assert len(mix) == len(alone) + len(full)
    for k in (0, len(alone) - 1):
        sample, ref = mix[k], alone[k]
        for key in ("x", "y"):
            assert sample[key].shape == (3, 4, 4)
            torch.testing.assert_close(sample[key][:2], ref[key], rtol=0, atol=0)
            assert (sample[key][2] == 0.5).all()  # the lacking tracer: its fill value
        assert sample["channel_mask"].tolist() == [True, True, False]
    sample = mix[len(alone) + 3]
    torch.testing.assert_close(sample["x"], full[3]["x"], rtol=0, atol=0)
    assert sample["channel_mask"].tolist() == [True, True, True]
    # rollouts see the same layout
    assert mix.trajectory(0).shape == (3, 3, 4, 4) and (mix.trajectory(1)[:, 2] == 0.5).all()
    torch.testing.assert_close(mix.trajectory(2), full.trajectory(0), rtol=0, atol=0)
    assert mix.channel_mask(0).tolist() == [True, True, False]
    assert mix.channel_mask(3).tolist() == [True, True, True]
    # the layout follows the order of the fields; the default fill is 0
    swapped = AllToAllMixture(flow, ["c", "vel"], files=[tracer], n_test=1)
    assert swapped[0]["channel_mask"].tolist() == [False, True, True]
    assert (swapped[0]["y"][0] == 0).all()
    torch.testing.assert_close(swapped[0]["y"][1:], alone[0]["y"], rtol=0, atol=0)


def test_a_mixture_of_complete_families_has_no_mask(families):
    mix = AllToAllMixture(families["tracer"], ["vel"], files=[families["flow"]], n_test=1)
    assert "channel_mask" not in mix[0] and mix.channel_mask(0) is None


@pytest.mark.parametrize(
    ("fields", "other", "extra", "error", "message"),
    [
        (["vel"], "other", {}, DataFileError, r"other\.h5: none of the state fields \['vel'\]"),
        (["vel", "q"], "tracer", {}, DataFileError, r"no file of the mixture has .*\['q'\]"),
        (["vel"], "scalar_vel", {}, DataFileError, r"field 'vel' has 1 channels here but 2"),
        (["vel", "c"], "tracer", {"fill": {"rho": 1.0}}, ValueError,
         r"data\.options\.fill: \['rho'\] are not state fields; allowed: \['vel', 'c'\]"),
    ],
)  # fmt: skip
def test_families_that_cannot_share_a_layout_are_refused(
    families, fields, other, extra, error, message
):
    with pytest.raises(error, match=message):
        AllToAllMixture(families["flow"], fields, files=[families[other]], n_test=1, **extra)


def test_a_time_conditioned_run_trains_and_scores_only_the_channels_a_family_has(
    families, tmp_path
):
    import sciml
    from sciml.evaluation.runner import predict

    spec = sciml.load_spec(
        text=f"""\
name: mixed_families
task: time_conditioned
data:
  path: {families["flow"]}
  kind: all2all_mixture
  options: {{files: [{families["tracer"]}], fill: {{c: 0.25}}}}
  inputs: [vel, c]
  outputs: [vel, c]
  n_test: 1
model: {{name: fno_time, n_modes: [2, 2], hidden_channels: 4, n_layers: 1}}
trainer: {{epochs: 1, batch_size: 8, loss: {{name: channel_group_l1, groups: [[0, 1], [2]]}},
  progress: false}}
evaluation: {{metrics: [relative_l2], plots: false}}
"""
    )
    sciml.train(spec, tmp_path / "run", progress=False)
    report = sciml.evaluate(tmp_path / "run", out_dir=tmp_path / "eval")
    test = report.sections["test"]
    assert np.isfinite([test["relative_l2"], test["direct_relative_l2_final"]]).all()
    # the flow family's test pairs: the prediction of the tracer it lacks is its stored fill
    surrogate = sciml.load(tmp_path / "run")
    mix = AllToAllMixture(
        families["flow"], ["vel", "c"], files=[families["tracer"]], split="test", n_test=1,
        fill={"c": 0.25},
    )  # fmt: skip
    result = predict(surrogate.model, mix)
    n_flow = len(mix.parts[0])
    assert (result["pred"][:n_flow, 2] == 0.25).all()
    assert not torch.equal(result["pred"][n_flow:, 2], result["target"][n_flow:, 2])
