"""Sharded generation: every ``torchrun`` rank writes its own blocks, rank 0 joins the shards.

A recipe's :func:`~sciml.data.recipes.base.generate_in_blocks` produces trajectories in blocks
whose random numbers depend only on ``(seed, block start)``. Under :func:`sharded` the ``B =
ceil(N / block_size)`` blocks of a serial run are split into ``W`` contiguous runs, one per rank:
rank ``r`` gets blocks ``[r·B // W, (r+1)·B // W)``, i.e. trajectories ``[start_r, stop_r)``, and
generates exactly the blocks (same starts, same sizes) a serial run would. It writes them through
:class:`~sciml.data.format.DatasetWriter` into its shard file::

    <out>.shards/part-<rank>-of-<W>.h5      a complete sciml file of trajectories [start_r, stop_r)

so an interrupted rank leaves ``part-….h5.partial``, which the next run (with or without
``--resume``) continues, and a complete shard made with the same parameters is not generated
again. After a barrier rank 0 either

* **joins** the shards into ``<out>`` with one :class:`~sciml.data.format.DatasetWriter` over the
  whole layout (the header is written by the same code as in a serial run, the arrays are copied
  block by block, itself resumable) and deletes them: every array and attribute of ``<out>``
  equals the serial file's (tested); or
* with ``virtual=True``, keeps them and writes ``<out>`` as an HDF5 *virtual dataset* file: the
  header is rank 0's shard's with the whole-file attributes, and every per-trajectory array
  (``t0/t1/t2_fields``, ``scalars``) maps its rows ``[start_r, stop_r)`` to shard ``r`` by a path
  relative to ``<out>``'s folder (move the folder and the ``.shards`` folder together). Reading
  it needs no copy of the data; a missing shard reads as NaN (the virtual fill value), which
  :class:`~sciml.data.format.DatasetFile`'s finiteness scan reports on open.

Several machines need a folder all ranks share (rank 0 reads every shard). The process group is
joined by the caller (``sciml generate`` under ``torchrun``); here it only serves barriers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch.distributed as dist

from sciml.atomic import atomic_path
from sciml.data.format import FIELD_GROUPS, DataFileError, DatasetLayout, DatasetWriter

__all__ = [
    "Sharding",
    "active_sharding",
    "join_shards",
    "shard_layout",
    "shard_path",
    "shard_ranges",
    "sharded",
    "write_virtual",
]

#: groups whose every dataset has one row per trajectory (fields, scalars, series)
_PER_TRAJECTORY = ("scalars", *FIELD_GROUPS)
#: how long a rank waits at a barrier for the slowest one (a resumed run may have one rank with
#: all of its work left while the others have none); gloo's 30-minute default is too short
_BARRIER_TIMEOUT = timedelta(days=7)

#: ``make_block(start, size) -> {field: (size, ...)}`` as in ``generate_in_blocks``
MakeBlock = Callable[[int, int], Mapping[str, Any]]


def shard_ranges(n: int, block_size: int, world_size: int) -> list[tuple[int, int]]:
    """Trajectory ranges ``[start, stop)`` of the ``world_size`` ranks: contiguous runs of whole
    blocks of the serial run (a rank may get none, ``start == stop``, when blocks are fewer)."""
    if n < 1 or block_size < 1 or world_size < 1:
        raise ValueError(
            f"need n >= 1, block_size >= 1, world_size >= 1; got {n}, {block_size}, {world_size}"
        )
    n_blocks = -(-n // block_size)
    edges = [min(n, (r * n_blocks // world_size) * block_size) for r in range(world_size + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def shard_path(out_path: str | os.PathLike, rank: int, world_size: int) -> Path:
    """``<out>.shards/part-<rank>-of-<world_size>.h5``, the shard file of ``rank``."""
    out = Path(out_path)
    return out.with_name(out.name + ".shards") / f"part-{rank:05d}-of-{world_size:05d}.h5"


def shard_layout(layout: DatasetLayout, start: int, stop: int) -> DatasetLayout:
    """The layout of trajectories ``[start, stop)`` of ``layout``: same grid, fields, config and
    seed, per-trajectory scalars sliced."""
    n = layout.n_trajectories
    scalars = {
        name: np.broadcast_to(np.asarray(values), (n,))[start:stop]
        for name, values in layout.scalars.items()
    }
    return dataclasses.replace(layout, n_trajectories=stop - start, scalars=scalars)


def _is_complete(path: Path, layout: DatasetLayout) -> bool:
    """Whether ``path`` is a finished file of ``layout`` (its config, seed, size and arrays)."""
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            config = json.loads(json.dumps(layout.config, sort_keys=True, default=str))
            return (
                bool(f.attrs.get("complete", False))
                and json.loads(f.attrs.get("config", "null")) == config
                and int(f.attrs.get("seed", -1)) == layout.seed
                and int(f.attrs.get("n_trajectories", -1)) == layout.n_trajectories
                and all(
                    key in f and f[key].shape == shape for key, shape in layout.datasets().values()
                )
            )
    except (OSError, KeyError, ValueError):
        return False


def _parts(
    out: Path, layout: DatasetLayout, ranges: list[tuple[int, int]]
) -> list[tuple[Path, int, int]]:
    """``(shard file, start, stop)`` of every non-empty shard, each checked to be complete."""
    parts = []
    for rank, (start, stop) in enumerate(ranges):
        if stop == start:
            continue
        path = shard_path(out, rank, len(ranges))
        if not _is_complete(path, shard_layout(layout, start, stop)):
            raise DataFileError(
                path,
                f"the shard of rank {rank} (trajectories {start}..{stop - 1}) is missing or "
                "unfinished; ranks on several machines need an output folder they all share",
            )
        parts.append((path, start, stop))
    return parts


def join_shards(
    out_path: str | os.PathLike,
    layout: DatasetLayout,
    parts: list[tuple[Path, int, int]],
    *,
    block_size: int,
) -> Path:
    """Copy the shards ``(file, start, stop)`` into one file ``out_path`` of ``layout`` (atomic,
    resumable like any :class:`DatasetWriter` run), then delete them."""
    datasets = layout.datasets()
    with DatasetWriter(out_path, layout) as writer:
        for path, start, stop in parts:
            if stop <= writer.n_done:
                continue
            with h5py.File(path, "r") as f:
                for begin in range(max(start, writer.n_done), stop, block_size):
                    rows = slice(begin - start, min(begin + block_size, stop) - start)
                    writer.write(begin, {n: f[key][rows] for n, (key, _) in datasets.items()})
    for path, _, _ in parts:
        path.unlink()
    with contextlib.suppress(OSError):  # only when empty: other files there are not ours
        parts[0][0].parent.rmdir()
    return Path(out_path)


def write_virtual(
    out_path: str | os.PathLike, layout: DatasetLayout, parts: list[tuple[Path, int, int]]
) -> Path:
    """Write ``out_path`` as an HDF5 virtual-dataset file over the shards ``(file, start,
    stop)`` (atomic; the shards stay and are referred to relative to ``out_path``'s folder)."""
    out = Path(out_path)
    n = layout.n_trajectories
    first = parts[0][0]
    roots = []
    for path, _, _ in parts:
        with h5py.File(path, "r") as f:
            roots.append(dict(f.attrs))
    with atomic_path(out) as tmp, h5py.File(first, "r") as src, h5py.File(tmp, "w") as dst:
        dst.attrs.update(src.attrs)
        dst.attrs["n_trajectories"] = n
        dst.attrs["n_complete"] = n
        # a constant scalar is a root attribute of the whole file when it is one, with the same
        # value, in every shard
        for name in src.attrs.get("simulation_parameters", []):
            values = [attrs.get(name) for attrs in roots]
            if any(v is None or v != values[0] for v in values):
                dst.attrs.pop(name, None)

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
            elif name.split("/")[0] not in _PER_TRAJECTORY:
                src.copy(obj, dst, name=name)
            else:
                virtual = h5py.VirtualLayout((n, *obj.shape[1:]), obj.dtype)
                for path, start, stop in parts:
                    source = os.path.relpath(path, out.parent)
                    virtual[start:stop] = h5py.VirtualSource(
                        source, name, shape=(stop - start, *obj.shape[1:])
                    )
                fill = np.nan if obj.dtype.kind == "f" else 0
                ds = dst.create_virtual_dataset(name, virtual, fillvalue=fill)
                ds.attrs.update(obj.attrs)

        src.visititems(visit)
    return out


@dataclasses.dataclass(frozen=True)
class Sharding:
    """This process's part of a sharded generation: its ``rank`` of ``world_size``, and whether
    rank 0 joins the shards by a copy (default) or a virtual dataset (``virtual``)."""

    rank: int
    world_size: int
    virtual: bool = False

    def generate(
        self,
        out_path: str | os.PathLike,
        layout: DatasetLayout,
        make_block: MakeBlock,
        *,
        block_size: int,
        progress: bool,
        fill: Callable[..., Path],
    ) -> Path:
        """Generate this rank's shard with ``fill`` (``generate_in_blocks``, called on the
        shard's path and layout with block starts shifted to the shard), wait for every rank,
        join on rank 0, wait again; returns ``out_path`` on every rank."""
        out = Path(out_path)
        ranges = shard_ranges(layout.n_trajectories, block_size, self.world_size)
        start, stop = ranges[self.rank]
        if stop > start:
            path = shard_path(out, self.rank, self.world_size)
            part = shard_layout(layout, start, stop)
            if not _is_complete(path, part):  # a finished shard of the same parameters stays

                def shifted(begin: int, size: int) -> Mapping[str, Any]:
                    return make_block(start + begin, size)

                token = _SHARDING.set(None)  # the shard itself is a plain serial run
                try:
                    fill(path, part, shifted, block_size=block_size, progress=progress)
                finally:
                    _SHARDING.reset(token)
        self._barrier()
        if self.rank == 0:
            parts = _parts(out, layout, ranges)
            if self.virtual:
                write_virtual(out, layout, parts)
            else:
                join_shards(out, layout, parts, block_size=block_size)
        self._barrier()
        return out

    def _barrier(self) -> None:
        if self.world_size == 1:
            return
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=_BARRIER_TIMEOUT, wait_all_ranks=True)
        else:
            dist.barrier()


_SHARDING: ContextVar[Sharding | None] = ContextVar("sciml_generation_sharding", default=None)


def active_sharding() -> Sharding | None:
    """The :class:`Sharding` of the enclosing :func:`sharded` block, or ``None`` (serial)."""
    return _SHARDING.get()


@contextlib.contextmanager
def sharded(rank: int, world_size: int, *, virtual: bool = False) -> Iterator[None]:
    """Generations inside this block are this process's share of a ``world_size``-rank job.

    With ``world_size == 1`` and no ``virtual``, nothing changes (a serial run). Several ranks
    need the ``torch.distributed`` process group (``torchrun``; the caller joins it).
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} of world_size {world_size}: need 0 <= rank < world_size")
    if world_size > 1 and not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            f"sharded generation over {world_size} ranks needs the torch.distributed process "
            "group: launch with torchrun, which sciml generate joins"
        )
    active = Sharding(rank, world_size, virtual) if world_size > 1 or virtual else None
    token = _SHARDING.set(active)
    try:
        yield
    finally:
        _SHARDING.reset(token)
