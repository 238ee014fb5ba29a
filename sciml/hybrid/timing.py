"""Wall-clock and CPU time of a callable: the median of repeated runs (for equal-cost tables).

On a shared machine one timing is noise; the median of ``repeats`` runs (after ``warmup`` untimed
ones) is the figure we report, with the CPU time (``time.process_time``: all threads of this
process) beside it, so a reader can tell waiting for the CPU from computing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

__all__ = ["Timing", "median_time"]


class Timing(NamedTuple):
    """Median wall and CPU seconds per call over ``repeats`` runs."""

    wall: float
    cpu: float
    repeats: int


def median_time(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Median wall-clock and CPU seconds of ``fn()`` over ``repeats`` runs, under ``no_grad``.

    CUDA work is synchronised before each clock read, so the times are those of the computation,
    not of its launch.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    walls, cpus = [], []
    with torch.no_grad():
        for i in range(warmup + repeats):
            sync()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            sync()
            if i >= warmup:
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
    return Timing(statistics.median(walls), statistics.median(cpus), repeats)
