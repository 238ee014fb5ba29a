"""Training logs: ``metrics.csv`` (rewritten atomically) and TensorBoard events.

``metrics.csv`` columns are :data:`COLUMNS` followed by the model's own counts, if any
(``extra_columns``, e.g. ``skipped_segments``); ``val_loss`` is empty on rows where validation did
not run. The whole file is rewritten (temp file + ``os.replace``) at every row: a run has at
most a few thousand rows (``log_every`` defaults to 50), and a reader never sees a half-written
line. On resume the history is restored from the checkpoint, so rows logged after that
checkpoint by the interrupted process are dropped, and TensorBoard purges its events after the
resumed step.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciml.atomic import atomic_write_bytes
from sciml.rundir import RunDir

COLUMNS = ("step", "epoch", "train_loss", "val_loss", "lr", "time")


def format_csv_lines(rows: list[Any]) -> str:
    """Render rows (sequences of cells; ``None`` → empty cell) as CSV lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return out.getvalue()


class RunLogger:
    """Writes the run's history to ``run_dir/metrics.csv`` and ``run_dir/tensorboard/``.

    Parameters
    ----------
    run_dir:
        The run directory (must exist).
    history:
        Rows already logged (restored from a checkpoint on resume).
    enabled:
        ``False`` on non-zero ranks: the logger then keeps the history but writes nothing.
    extra_columns:
        Further numeric columns after :data:`COLUMNS` (also written to TensorBoard as
        ``train/<name>``).
    """

    def __init__(
        self,
        run_dir: Path,
        history: list[dict[str, Any]],
        enabled: bool = True,
        extra_columns: Sequence[str] = (),
    ) -> None:
        self.csv_path = RunDir(run_dir).metrics_csv
        self.history = list(history)
        self.enabled = enabled
        self.columns = (*COLUMNS, *extra_columns)
        self._scalars = (
            ("loss/train", "train_loss"),
            ("loss/val", "val_loss"),
            ("lr", "lr"),
            *((f"train/{name}", name) for name in extra_columns),
        )
        self._writer = None
        if enabled:
            # Imported here: tensorboard pulls in heavy modules that `import sciml.training`
            # should not pay for.
            from torch.utils.tensorboard import SummaryWriter

            purge_step = self.history[-1]["step"] + 1 if self.history else None
            self._writer = SummaryWriter(str(RunDir(run_dir).tensorboard), purge_step=purge_step)
            # The rendered file is kept, so each new row costs one write, not a re-render.
            self._csv_text = format_csv_lines([self.columns, *map(self._cells, self.history)])
            self._write_csv()

    def _write_csv(self) -> None:
        # No fsync: a log row is not worth a disk flush; the rename is still atomic.
        atomic_write_bytes(self._csv_text.encode(), [self.csv_path], fsync=False)

    def _cells(self, row: dict[str, Any]) -> list[Any]:
        return [row.get(col) for col in self.columns]

    def log(self, row: dict[str, Any]) -> None:
        """Append one row (keys :attr:`columns`) to the history, the CSV and TensorBoard."""
        self.history.append(row)
        if not self.enabled:
            return
        self._csv_text += format_csv_lines([self._cells(row)])
        self._write_csv()
        step = row["step"]
        for tag, key in self._scalars:
            value = row.get(key)
            if value is not None and math.isfinite(value):
                self._writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
