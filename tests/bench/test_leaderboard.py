"""The leaderboard: seeds averaged (mean ± standard deviation), rows ranked by the test relative
L2, families that did not finish listed with their reason, never dropped."""

from __future__ import annotations

import statistics

import pytest
from bench_profile import write_profile

from sciml.bench.leaderboard import aggregate, markdown


def _ok(benchmark, model, seed, rel, seconds=1.0, zero_shot=None):
    return {
        "benchmark": benchmark,
        "model": model,
        "seed": seed,
        "status": "ok",
        "n_parameters": 100,
        "steps": 5,
        "train_seconds": seconds,
        "metrics": {"relative_l2": rel, "nrmse": rel, "resolution": 8.0},
        "zero_shot": {"16": zero_shot or {"relative_l2": 2 * rel, "resolution": 16.0}},
    }


def _not_ok(benchmark, model, seed, status, reason):
    return {
        "benchmark": benchmark,
        "model": model,
        "seed": seed,
        "status": status,
        "reason": reason,
    }


def test_seeds_are_averaged_with_their_standard_deviation():
    records = [_ok("poisson", "fno", 0, 0.1, 2.0), _ok("poisson", "fno", 1, 0.3, 4.0)]
    (row,) = aggregate(records, ["relative_l2", "nrmse"])
    assert row["status"] == "ok" and row["seeds"] == [0, 1]
    assert row["relative_l2"] == pytest.approx((0.2, statistics.stdev([0.1, 0.3])))
    assert row["train_seconds"] == pytest.approx((3.0, statistics.stdev([2.0, 4.0])))
    assert row["zero_shot"]["16"] == pytest.approx((0.4, statistics.stdev([0.2, 0.6])))


def test_a_row_with_one_seed_that_did_not_finish_is_not_ranked(tmp_path):
    profile = write_profile(tmp_path)
    records = [
        _ok("poisson", "fno", 0, 0.1),
        _not_ok("poisson", "fno", 1, "diverged", "non-finite loss at step 3"),
        _ok("poisson", "deeponet", 0, 0.05, zero_shot={"skipped": "not resolution invariant"}),
        _ok("poisson", "deeponet", 1, 0.07, zero_shot={"skipped": "not resolution invariant"}),
    ]
    rows = aggregate(records, ["relative_l2"])
    fno = next(r for r in rows if r["model"] == "fno")
    assert fno["status"] == "diverged"
    assert fno["reason"] == "non-finite loss at step 3 (seed 1)"
    deeponet = next(r for r in rows if r["model"] == "deeponet")
    assert deeponet["zero_shot"]["16"] == "not resolution invariant"
    table = markdown(rows, profile, ["relative_l2"])
    assert "| 1 | `deeponet` | 0.06 ± 0.01 | – | 100 |" in table  # zero-shot column: –
    assert "- `fno` diverged: non-finite loss at step 3 (seed 1)" in table


def test_rows_are_ranked_by_the_test_relative_l2(tmp_path):
    profile = write_profile(tmp_path)
    records = [_ok("poisson", m, 0, rel) for m, rel in (("a", 0.3), ("b", 0.1), ("c", 0.2))]
    table = markdown(aggregate(records, ["relative_l2"]), profile, ["relative_l2"])
    order = [
        line.split("`")[1] for line in table.splitlines() if line.startswith("| ") and "`" in line
    ]
    assert order == ["b", "c", "a"]
