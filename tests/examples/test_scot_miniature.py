"""examples/scot: the pretrain → fine-tune path of the Poseidon miniature on tiny data (2 steps
each): the fine-tuned run starts from the pretrained body, re-initializes the listed modules and
keeps its own normalizers."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import sciml
from sciml.data.recipes.base import generate
from sciml.rundir import RunDir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scot"
TINY = {"n_samples": 4, "batch_size": 4, "n_fine": 32, "n_x": 16, "t_end": 0.04, "n_t": 3,
        "dt": 0.01}  # fmt: skip
STEPS = 2
REINIT = r"(^|\.)(embed|recovery)\."


def _weights(run: Path, name: str) -> dict[str, torch.Tensor]:
    return torch.load(RunDir(run).checkpoint(name), weights_only=True)["model"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scot_miniature")
    sines = generate("ns_sines", root / "sines.h5", {**TINY, "n_modes": 3}, progress=False)
    # a second pretraining family: tiny grids cannot resolve NS-Gauss's narrow vortices
    other = generate("ns_sines", root / "other.h5", {**TINY, "n_modes": 2}, progress=False)
    shear = generate("shear_layer", root / "shear.h5", TINY, progress=False)
    pretrain = sciml.load_spec(
        EXAMPLES / "pretrain.yaml",
        [
            f"data.path={sines}",
            f"data.options.files=[{other}]",
            "data.n_test=1",
            "data.n_val=2",
            f"trainer.max_steps={STEPS}",
            "trainer.batch_size=4",
        ],
    )
    sciml.train(pretrain, root / "pretrain", progress=False)
    finetune = sciml.load_spec(
        EXAMPLES / "finetune_shear.yaml",
        [
            f"data.path={shear}",
            "data.n_train=3",
            "data.n_val=1",
            "data.n_test=1",
            f"init_from.run={root / 'pretrain'}",
            f"init_from.reinit=['{REINIT}']",
            f"trainer.max_steps={STEPS}",
            "trainer.batch_size=4",
            "seed=1",  # another initialization than the pretraining's, to tell them apart
        ],
    )
    sciml.train(finetune, root / "finetune", progress=False)
    return root / "pretrain", root / "finetune"


def test_pretraining_ran_on_both_files(runs):
    info = json.loads((runs[0] / "model.json").read_text())
    assert info["dataset_kind"] == "all2all_mixture"
    # 2 files × 3 training trajectories, 2 held out for validation; 3 times → 6 pairs each
    assert info["selection"].startswith("validation split (2 trajectories held out of the 6")


def test_fine_tuning_restores_the_body_and_reinitializes_the_listed_modules(runs):
    pretrained, tuned = _weights(runs[0], "best"), _weights(runs[1], "last")
    info = json.loads((runs[1] / "model.json").read_text())
    summary = info["init_from"]["summary"]
    reinit = [k for k in tuned if re.search(REINIT, k)]
    fitted = [k for k in tuned if "normalizer" in k]
    body = [k for k in tuned if k not in reinit and k not in fitted]
    assert {"model.model.embed.weight", "model.model.recovery.0.weight"} <= set(reinit)
    assert f"loaded {len(body)} tensors" in summary
    assert all(name in summary for name in reinit)
    # AdamW moves a weight by at most ~lr per step (lr ≤ 1e-3 in finetune_shear.yaml)
    bound = 3 * STEPS * 1e-3
    for name in body:
        drift = (tuned[name] - pretrained[name]).abs().max()
        assert drift <= bound, name
    # the re-initialized weights are a new draw (N(0, 0.02²)), not the pretrained ones
    for name in (k for k in reinit if k.endswith("weight") and tuned[k].dim() > 1):
        assert (tuned[name] - pretrained[name]).abs().max() > 10 * bound, name
    # the normalizers are the shear layer's, fitted on its training split
    key = next(k for k in fitted if k.endswith("output_normalizer.std"))
    assert not torch.allclose(tuned[key], pretrained[key])


def test_fine_tuning_on_the_tracer_reinitializes_embedding_and_recovery_for_three_channels(
    runs, tmp_path
):
    """finetune_tracer.yaml: u, v, c (3 channels) from a u, v pretraining: the embedding and the
    recovery change shape and are new draws, the body starts from the pretrained weights."""
    tiny = {**TINY, "n_fine": 32, "n_x": 16, "smoothing": 0.04}
    tracer = generate("ns_tracer", tmp_path / "tracer.h5", tiny, progress=False)
    spec = _finetune_spec("finetune_tracer.yaml", tracer, runs[0])
    assert spec.init_from.reinit == [REINIT]
    sciml.train(spec, tmp_path / "tracer_run", progress=False)
    info = json.loads((tmp_path / "tracer_run" / "model.json").read_text())
    assert (info["in_channels"], info["out_channels"]) == (3, 3)
    pretrained, tuned = _weights(runs[0], "best"), _weights(tmp_path / "tracer_run", "last")
    assert tuned["model.model.embed.weight"].shape[1] == 3
    assert pretrained["model.model.embed.weight"].shape[1] == 2
    body = [k for k in tuned if not re.search(REINIT, k) and "normalizer" not in k]
    assert body and all((tuned[k] - pretrained[k]).abs().max() <= 3 * STEPS * 1e-3 for k in body)
    assert f"loaded {len(body)} tensors" in info["init_from"]["summary"]


def _finetune_spec(example: str, data: Path, pretrained: Path) -> Any:
    """``examples/scot/<example>`` on ``data`` (3 / 1 / 1 trajectories), from ``pretrained``,
    for a few steps."""
    return sciml.load_spec(
        EXAMPLES / example,
        [
            f"data.path={data}",
            "data.n_train=3",
            "data.n_val=1",
            "data.n_test=1",
            f"init_from.run={pretrained}",
            f"trainer.max_steps={STEPS}",
            "trainer.batch_size=4",
            "seed=1",
        ],
    )


def _example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``examples/scot/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def test_fine_tuning_on_forced_ns_reinitializes_the_embedding_only_and_reads_the_forcing(
    runs, tmp_path, monkeypatch
):
    """finetune_forced.yaml: u, v and the forcing in (3 channels), u, v out: the embedding is a
    new draw, the recovery and the body start from the pretrained weights; the driver's final-time
    error passes the forcing with every call."""
    forced = generate("ns_forced", tmp_path / "forced.h5", {**TINY, "n_modes": 3}, progress=False)
    spec = _finetune_spec("finetune_forced.yaml", forced, runs[0])
    run = tmp_path / "forced_run"
    sciml.train(spec, run, progress=False)
    info = json.loads((run / "model.json").read_text())
    assert (info["in_channels"], info["out_channels"]) == (3, 2)
    pretrained, tuned = _weights(runs[0], "best"), _weights(run, "last")
    assert tuned["model.model.embed.weight"].shape[1] == 3
    body = [k for k in tuned if ".embed." not in k and "normalizer" not in k]
    assert "model.model.recovery.0.weight" in body
    assert all((tuned[k] - pretrained[k]).abs().max() <= 3 * STEPS * 1e-3 for k in body)

    sciml.evaluate(run)
    driver = _example("poseidon_miniature", monkeypatch)
    monkeypatch.setattr(driver, "N_TEST", 1)
    task = dataclasses.replace(driver.TASKS["forced"], file=forced)
    errors = driver.final_time_errors(run, task)
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert errors["direct_l2"] == metrics["test"]["direct_relative_l2_final"]
    assert all(0 < errors[k] < float("inf") for k in ("direct_l1", "auto_l1"))


def test_error_vs_n_figure_draws_one_panel_per_summary(tmp_path, monkeypatch) -> None:
    plot = _example("plot_error_vs_n", monkeypatch)
    runs = [
        {"model": m, "n": n, "seed": s, "direct_l1": 40.0 / n**0.1 + s, "auto_l1": 50.0}
        for m in ("finetune", "scratch", "fno")
        for n in (8, 32)
        for s in (0, 1)
    ]
    paths = []
    for task in ("shear", "tracer"):
        paths.append(tmp_path / f"summary_{task}.json")
        paths[-1].write_text(
            json.dumps({"task": task, "seeds": [0, 1], "ns": [8, 32], "runs": runs})
        )
    out = tmp_path / "fig" / "error_vs_n.png"
    monkeypatch.setattr(sys, "argv", ["plot", *map(str, paths), "--out", str(out)])
    plot.main()
    assert out.stat().st_size > 1000


def test_efficiency_gain_interpolates_the_baseline_log_log_and_bounds_outside(monkeypatch) -> None:
    gain = _example("poseidon_miniature", monkeypatch).efficiency_gain
    # halfway in log e between (8, 40) and (32, 20) is halfway in log N: N* = 16
    assert gain([8, 32], [40.0, 20.0], (40.0 * 20.0) ** 0.5, 8) == "2.00"
    assert gain([8, 32], [40.0, 20.0], (40.0 * 20.0) ** 0.5, 32) == "0.50"
    assert gain([8, 32], [40.0, 20.0], 10.0, 8).startswith("> 4 ")
    assert gain([8, 32], [40.0, 20.0], 45.0, 16).startswith("<= 0.5 ")


def test_a_fine_tuned_scot_run_exports_with_the_lead_time_as_an_input(runs, tmp_path):
    """`sciml export` of a time-conditioned scOT run (torch.export, ~10 s): the program takes the
    physical lead time and equals `sciml.load`'s module."""
    surrogate = sciml.load(runs[1])
    path = sciml.export(runs[1], tmp_path / "scot.pt2", batch_size=2)
    program = torch.export.load(path).module()
    x = torch.randn(2, 2, 16, 16)
    for dt in (torch.tensor([0.01, 0.04]), torch.tensor([0.02, 0.03])):
        torch.testing.assert_close(program(x, dt), surrogate(x, dt), rtol=1e-4, atol=1e-5)


def test_final_time_error_is_the_mean_of_group_medians_of_the_relative_l1_in_percent(
    tmp_path, monkeypatch
) -> None:
    """The driver's Poseidon metric on a persistence surrogate (prediction = the state it is
    given), against numpy from the file: per test trajectory 100·Σ|x0 − y|/Σ|y| over a channel
    group and the grid at the last time, the median over the (odd number of) test trajectories,
    then the mean over the groups [u, v] and [c]; 10 autoregressive calls of persistence give the
    same value."""
    import numpy as np

    from sciml.data.format import DatasetFile

    tiny = {**TINY, "n_samples": 5, "batch_size": 5, "n_fine": 64, "dt": 0.005}
    path = generate("ns_tracer", tmp_path / "tracer.h5", tiny, progress=False)
    driver = _example("poseidon_miniature", monkeypatch)
    monkeypatch.setattr(driver, "N_TEST", 3)
    monkeypatch.setattr(sciml, "load", lambda run: lambda x, dt: x)
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    (run / "eval" / "metrics.json").write_text(
        json.dumps({"test": {"direct_relative_l2_final": 0.5}})
    )
    task = dataclasses.replace(driver.TASKS["tracer"], file=path)
    errors = driver.final_time_errors(run, task)

    data = DatasetFile(path)
    fields = {k: data.read(k) for k in ("velocity", "tracer")}
    velocity = fields["velocity"][-3:]  # (3, T, X, Y, 2): the last 3 trajectories are the test set
    tracer = fields["tracer"][-3:]  # (3, T, X, Y)

    def median_l1(x: np.ndarray) -> float:
        x0, y = x[:, 0].reshape(3, -1), x[:, -1].reshape(3, -1)
        return float(np.median(100 * np.abs(x0 - y).sum(1) / np.abs(y).sum(1)))

    expected = {"direct_l1_g0": median_l1(velocity), "direct_l1_g1": median_l1(tracer)}
    assert errors["direct_l1_g0"] == pytest.approx(expected["direct_l1_g0"], rel=1e-5)
    assert errors["direct_l1_g1"] == pytest.approx(expected["direct_l1_g1"], rel=1e-5)
    assert errors["direct_l1"] == pytest.approx(np.mean(list(expected.values())), rel=1e-5)
    assert errors["auto_l1"] == pytest.approx(errors["direct_l1"], rel=1e-6)
    assert errors["direct_l2"] == 0.5
    assert 0 < expected["direct_l1_g1"] != expected["direct_l1_g0"]


def _driver_calls(
    driver: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *argv: str
) -> list[tuple[str, Path, tuple[str, ...]]]:
    """Run the driver's ``main`` on the shear task with ``argv``, training and evaluation replaced
    by a recorder (no run is trained); the ``(spec, out, overrides)`` of every ``train`` call."""
    data = tmp_path / "shear.h5"
    data.touch()
    task = dataclasses.replace(driver.TASKS["shear"], file=data)
    monkeypatch.setitem(driver.TASKS, "shear", task)
    calls: list[tuple[str, Path, tuple[str, ...]]] = []

    def record(spec: str, out: Path, *overrides: str) -> tuple[float, float]:
        calls.append((spec, out, overrides))
        return 1.0, 0.5

    def errors(run: Path, task: Any) -> dict[str, float]:
        return {"direct_l1": 30.0 if "finetune" in run.name else 40.0, "auto_l1": 45.0,
                "direct_l2": 0.4}  # fmt: skip

    monkeypatch.setattr(driver, "train", record)
    monkeypatch.setattr(driver, "final_time_errors", errors)
    monkeypatch.setattr(driver, "n_parameters", lambda run: 7)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["driver", "--ns", "8", "32", *argv])
    driver.main()
    return calls


def test_model_preset_trains_every_scot_run_as_the_preset_in_its_own_runs_root(
    tmp_path, monkeypatch
) -> None:
    """``--model-preset scot-mini``: the pretraining, fine-tuned, scratch and one-step runs resolve
    to exactly the catalog preset's model (the specs' scot-micro keys overridden), with the specs'
    optimizer and steps; the FNO runs get no model override; everything lands in runs/scot_mini,
    the fine-tuned runs start from runs/scot_mini/pretrain, and the summary names the preset."""
    from sciml.catalog import read_preset

    driver = _example("poseidon_miniature", monkeypatch)
    calls = _driver_calls(driver, tmp_path, monkeypatch, "--model-preset", "scot-mini")
    preset = read_preset("models", "scot-mini")
    root = Path("runs/scot_mini")
    assert [out for _, out, _ in calls] == [
        root / name
        for name in ("pretrain", "finetune_n8", "scratch_n8", "fno_n8", "finetune_n32",
                     "scratch_n32", "fno_n32", "scratch_onestep_n32")
    ]  # fmt: skip
    micro = sciml.load_spec(EXAMPLES / "scratch_shear.yaml").model
    assert micro["embed_dim"] != preset["embed_dim"]  # the override changes something
    for spec, out, overrides in calls:
        resolved = sciml.load_spec(EXAMPLES / spec, list(overrides), check_names=False)
        if spec.startswith("fno"):
            assert not any(o.startswith("model.") for o in overrides)
            assert resolved.model == sciml.load_spec(EXAMPLES / spec).model
            continue
        assert resolved.model == preset, out
        plain = sciml.load_spec(EXAMPLES / spec)
        assert resolved.optimizer == plain.optimizer
        if spec.startswith("finetune"):
            assert resolved.init_from.run == str(root / "pretrain")
        if "onestep" in out.name:
            assert resolved.data.options["max_lead"] == 1
    summary = json.loads((tmp_path / root / "summary_shear.json").read_text())
    assert summary["model_preset"] == "scot-mini"
    assert len(summary["runs"]) == 7


def test_without_a_model_preset_the_driver_keeps_the_specs_model_and_runs_scot(
    tmp_path, monkeypatch
) -> None:
    driver = _example("poseidon_miniature", monkeypatch)
    calls = _driver_calls(driver, tmp_path, monkeypatch, "--ablation-n", "0")
    assert [out.parent for _, out, _ in calls] == [Path("runs/scot")] * 7
    assert not any(o.startswith("model.") for _, _, overrides in calls for o in overrides)
    assert (tmp_path / "runs" / "scot" / "summary_shear.json").is_file()


def test_a_model_preset_that_would_leave_a_spec_key_or_change_the_family_is_refused(
    tmp_path, monkeypatch
) -> None:
    driver = _example("poseidon_miniature", monkeypatch)
    extra = tmp_path / "extra.yaml"
    extra.write_text("model: {name: scot, embed_dim: 24, qkv_bias: false}\n")
    with pytest.raises(SystemExit, match="qkv_bias"):
        driver.preset_overrides("scot-mini", [extra])
    with pytest.raises(SystemExit, match="fno_shear.yaml"):
        driver.preset_overrides("scot-mini", [EXAMPLES / "fno_shear.yaml"])
    assert driver.preset_overrides("scot-mini", [EXAMPLES / "pretrain.yaml"])[0] == (
        "model.preset=scot-mini"
    )


def test_error_vs_n_overlay_draws_another_scot_size_on_its_tasks_panel(tmp_path, monkeypatch):
    """``--overlay``: the fine-tuned and scratch curves of a ``--model-preset`` summary are added
    to the panel of the same task (two more lines there, none elsewhere); a summary of a task
    without a panel is refused."""
    plot = _example("plot_error_vs_n", monkeypatch)
    runs = [
        {"model": m, "n": n, "seed": 0, "direct_l1": 40.0 / n**0.1, "auto_l1": 50.0}
        for m in ("finetune", "scratch", "fno")
        for n in (8, 32)
    ]
    paths = {}
    for name, task in (
        ("shear", "shear"),
        ("tracer", "tracer"),
        ("mini", "shear"),
        ("bad", "forced"),
    ):
        summary = {"task": task, "seeds": [0], "ns": [8, 32], "runs": runs}
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps({**summary, "model_preset": "scot-mini"}))
    drawn = {}
    monkeypatch.setattr(plot.plt.Figure, "savefig", lambda fig, out, **kw: drawn.update(
        {"lines": [len(ax.get_lines()) for ax in fig.axes]}))  # fmt: skip
    argv = [str(paths["shear"]), str(paths["tracer"]), "--out", str(tmp_path / "f.png")]
    monkeypatch.setattr(sys, "argv", ["plot", *argv, "--overlay", str(paths["mini"])])
    plot.main()
    assert drawn["lines"] == [5, 3]
    monkeypatch.setattr(sys, "argv", ["plot", *argv, "--overlay", str(paths["bad"])])
    with pytest.raises(SystemExit):
        plot.main()
