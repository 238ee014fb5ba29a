"""Run logs: metrics.csv mirrors the history (rewritten whole); TensorBoard gets the scalars."""

from __future__ import annotations

import csv
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from sciml.training.log import COLUMNS, RunLogger


def _row(step: int, val: float | None = None) -> dict:
    return {
        "step": step,
        "epoch": step / 4,
        "train_loss": 1.0 / step,
        "val_loss": val,
        "lr": 0.1,
        "time": 0.5 * step,
    }


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_csv_holds_every_logged_row_with_empty_missing_values(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path, [])
    logger.log(_row(1))
    logger.log(_row(2, val=0.25))
    logger.close()
    rows = _read_csv(tmp_path / "metrics.csv")
    assert tuple(rows[0]) == COLUMNS
    assert [r["step"] for r in rows] == ["1", "2"]
    assert rows[0]["val_loss"] == "" and float(rows[1]["val_loss"]) == 0.25
    assert float(rows[1]["train_loss"]) == 0.5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_resumed_logger_drops_rows_after_the_checkpoint(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path, [])
    for step in (1, 2, 3):
        logger.log(_row(step))
    logger.close()
    # Resuming from a checkpoint taken at step 2: row 3 was logged by the lost process.
    resumed = RunLogger(tmp_path, [_row(1), _row(2)])
    resumed.log(_row(3, val=0.1))
    resumed.close()
    rows = _read_csv(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert float(rows[2]["val_loss"]) == 0.1


def test_tensorboard_receives_the_logged_scalars(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path, [])
    logger.log(_row(1))
    logger.log(_row(2, val=0.25))
    logger.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss/train")] == [(1, 1.0), (2, 0.5)]
    assert [(e.step, e.value) for e in events.Scalars("loss/val")] == [(2, 0.25)]
    assert len(events.Scalars("lr")) == 2


def test_disabled_logger_keeps_history_but_writes_nothing(tmp_path: Path) -> None:
    logger = RunLogger(tmp_path, [], enabled=False)
    logger.log(_row(1))
    logger.close()
    assert logger.history == [_row(1)]
    assert list(tmp_path.iterdir()) == []
