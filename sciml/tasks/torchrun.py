"""``sciml generate`` / ``sciml evaluate`` under ``torchrun``: the ranks, and the shared predictions.

:func:`torchrun_ranks` joins the job ``torchrun`` started (through
:func:`sciml.training.distributed.init_distributed`, on ``gloo``: the ranks exchange only
barriers and CPU tensors, whatever device computes) and tells each rank its device
(``cuda`` becomes ``cuda:<LOCAL_RANK>``, one GPU per rank); without ``torchrun`` it is a single
process and nothing changes.

Evaluation: inside :func:`sharded_evaluation`, :func:`predict` splits the ``ceil(N / b)`` batches
of a serial :func:`sciml.evaluation.runner.predict` over the ``W`` ranks in contiguous runs (rank
``r`` takes batches ``[r·B // W, (r+1)·B // W)``), so every model call sees exactly the batch the
serial run gives it; ``all_gather_object`` returns every rank's predictions in rank order, i.e.
the serial ``(N, ...)`` tensors, from which the metrics are computed as in a serial run. The
predictions (and so the metrics) are bit-identical to a serial run's at the same per-process
thread count (``torchrun`` sets ``OMP_NUM_THREADS=1``); the timing (``seconds_per_sample``) is a
measurement of each run and differs.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, Subset

from sciml.evaluation import runner
from sciml.training.distributed import DistContext, init_distributed, shutdown

__all__ = ["predict", "rank_batches", "sharded_evaluation", "torchrun_ranks"]

_EVALUATION: ContextVar[DistContext | None] = ContextVar("sciml_sharded_evaluation", default=None)


@contextlib.contextmanager
def torchrun_ranks(device: str) -> Iterator[tuple[DistContext, str]]:
    """Join the ``torchrun`` process group (``gloo``) for a sharded command; yields the context
    and this rank's device (``"cuda"`` → ``"cuda:<LOCAL_RANK>"`` on several ranks)."""
    ctx = init_distributed("cpu")
    try:
        if ctx.enabled and device == "cuda":
            device = f"cuda:{ctx.local_rank}"
        yield ctx, device
    finally:
        shutdown(ctx)


@contextlib.contextmanager
def sharded_evaluation(ctx: DistContext, out_dir: str | None) -> Iterator[str | None]:
    """Inside, :func:`predict` shares its batches over the ranks of ``ctx``. Yields the folder
    this rank writes its report into: ``out_dir`` on rank 0; a scratch folder, deleted on exit,
    on the others (their report equals rank 0's but for its timings)."""
    token = _EVALUATION.set(ctx if ctx.enabled else None)
    try:
        if ctx.is_main:
            yield out_dir
        else:
            with tempfile.TemporaryDirectory(prefix=f"sciml-eval-rank{ctx.rank}-") as scratch:
                yield scratch
    finally:
        _EVALUATION.reset(token)


def rank_batches(n: int, batch_size: int, rank: int, world_size: int) -> range:
    """The samples ``[start, stop)`` of ``rank``: its contiguous run of the serial batches."""
    n_batches = -(-n // batch_size)
    first, last = (rank * n_batches // world_size, (rank + 1) * n_batches // world_size)
    return range(min(n, first * batch_size), min(n, last * batch_size))


def predict(
    model: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """:func:`sciml.evaluation.runner.predict`, shared over the ranks inside
    :func:`sharded_evaluation` (every rank gets the whole result), serial outside."""
    ctx = _EVALUATION.get()
    if ctx is None:
        return runner.predict(model, dataset, batch_size=batch_size, device=device, dtype=dtype)
    mine = rank_batches(len(dataset), batch_size, ctx.rank, ctx.world_size)  # type: ignore[arg-type]
    part = (
        runner.predict(
            model, Subset(dataset, mine), batch_size=batch_size, device=device, dtype=dtype
        )
        if len(mine)
        else None
    )
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, part)
    parts = [p for p in gathered if p is not None]
    out = {
        key: torch.cat([p[key] for p in parts])
        for key in parts[0]
        if key in ("pred", "target", "var")
    }
    if "coords" in parts[0]:
        out["coords"] = parts[0]["coords"]
    return out
