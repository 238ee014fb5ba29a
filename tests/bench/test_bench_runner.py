"""sciml bench end to end on a tiny benchmark: cells trained through the workflow, families the
task cannot train reported with their reason, finished cells reused, filters checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_profile import write_profile

from sciml.bench import run_bench
from sciml.bench.cells import Cell
from sciml.bench.runner import cell_record_path
from sciml.spec import SpecError


def test_two_families_are_trained_and_ranked_on_one_leaderboard(tiny_bench):
    profile, out, result = tiny_bench
    ok = {r["model"]: r for r in result.records if r["status"] == "ok"}
    assert set(ok) == {"fno", "deeponet"}
    for record in ok.values():
        assert record["steps"] == 5
        assert record["n_parameters"] > 0
        assert 0 < record["metrics"]["relative_l2"] < 10
        assert record["metrics"]["resolution"] == 8.0  # trained at 8² (subsample 2 of 16²)
        assert record["n_val"] >= 1  # selection on a validation split, not the test split
        assert Path(record["run_dir"], "checkpoints", "best.pt").is_file()
    # zero-shot at 16²: FNO is evaluated there, DeepONet's fixed sensors are not
    assert ok["fno"]["zero_shot"]["16"]["resolution"] == 16.0
    assert "not resolution invariant" in ok["deeponet"]["zero_shot"]["16"]["skipped"]
    table = result.markdown_path.read_text()
    assert "| 1 | `" in table and "| 2 | `" in table
    assert "relative_l2 @16 (zero-shot)" in table
    document = json.loads(result.json_path.read_text())
    assert {r["model"] for r in document["rows"]} == {"fno", "deeponet", "fno_time", "nclaw"}
    assert {f.name for f in result.figures} == {
        "error_vs_parameters.png",
        "error_vs_time.png",
        "zero_shot.png",
    }
    assert all(f.stat().st_size > 0 for f in result.figures)


def test_a_family_the_task_cannot_train_is_listed_with_its_reason(tiny_bench):
    _, _, result = tiny_bench
    skipped = {r["model"]: r["reason"] for r in result.records if r["status"] == "skipped"}
    assert "constructor takes no in_channels, out_channels, n_dims" in skipped["nclaw"]
    assert "takes the inputs ['x', 't']" in skipped["fno_time"]
    table = result.markdown_path.read_text()
    # skipped on every benchmark: listed once, under the tables
    assert "- `nclaw`: task 'field_operator'" in table.split("## Families skipped on every")[1]
    assert "- `fno_time`: model 'fno_time'" in table


def test_a_rerun_reuses_finished_cells_without_training(tiny_bench, monkeypatch):
    profile, out, first = tiny_bench
    import sciml.workflow

    def no_training(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(sciml.workflow, "train", no_training)
    again = run_bench(profile, out, models=["fno", "deeponet", "fno_time", "nclaw"], progress=False)
    assert again.reused == 4
    assert again.records == first.records


def test_a_cell_of_another_budget_is_run_again(tiny_bench, tmp_path):
    profile, out, _ = tiny_bench
    longer = write_profile(tmp_path, "{steps: 6}")
    result = run_bench(longer, out, models=["fno"], progress=False)
    assert result.reused == 0
    assert result.records[0]["steps"] == 6
    stored = json.loads(cell_record_path(out, Cell("poisson", "fno", 0)).read_text())
    assert stored["steps"] == 6


def test_a_failing_family_is_recorded_with_its_traceback_and_retried(tmp_path, monkeypatch):
    import sciml.bench.cells as cells

    profile = write_profile(tmp_path)
    real = cells.workflow.evaluate

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in evaluation")

    monkeypatch.setattr(cells.workflow, "evaluate", broken)
    result = run_bench(profile, tmp_path / "out", models=["fno"], progress=False)
    (record,) = result.failed
    assert record["reason"] == "RuntimeError: a bug in evaluation"
    assert "a bug in evaluation" in Path(record["traceback"]).read_text()
    assert "- `fno` failed: RuntimeError: a bug in evaluation" in result.markdown_path.read_text()
    monkeypatch.setattr(cells.workflow, "evaluate", real)
    fixed = run_bench(profile, tmp_path / "out", models=["fno"], progress=False)
    assert fixed.reused == 0 and fixed.records[0]["status"] == "ok"
    assert not Path(record["traceback"]).exists()


def test_a_wall_clock_budget_becomes_a_step_count_from_a_timed_probe(tmp_path):
    profile = write_profile(tmp_path, "{seconds: 0.5, probe_steps: 2}")
    result = run_bench(profile, tmp_path / "out", models=["fno"], progress=False)
    (record,) = result.records
    assert record["status"] == "ok"
    per_step = record["probe_seconds_per_step"]
    assert record["steps"] == max(1, int(0.5 / per_step))
    assert not any(p.name.endswith(".probe") for p in (tmp_path / "out" / "runs").rglob("*"))


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("models", ["fno", "fnoo"], "anp, deeponet, fno"),
        ("benchmarks", ["poisson", "darcy"], "allowed: poisson"),
    ],
)
def test_an_unknown_filter_name_is_refused_with_the_allowed_ones(tmp_path, option, value, allowed):
    profile = write_profile(tmp_path)
    bad = value[-1]
    with pytest.raises(SpecError, match=f"--{option} {bad}: unknown {option}.*{allowed}"):
        run_bench(profile, tmp_path / "out", progress=False, **{option: value})
    assert not (tmp_path / "out").exists()  # refused before any work


def test_filters_select_the_cells_and_seeds(tmp_path):
    profile = write_profile(tmp_path)
    result = run_bench(profile, tmp_path / "out", models=["nclaw"], seeds=[3, 4], progress=False)
    assert [(r["model"], r["seed"]) for r in result.records] == [("nclaw", 3), ("nclaw", 4)]
    with pytest.raises(SpecError, match="--seeds"):
        run_bench(profile, tmp_path / "out", models=["nclaw"], seeds=[-1], progress=False)
