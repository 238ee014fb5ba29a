"""Data-parallel training under ``torchrun``: process group, DDP wrapping, cross-rank sums.

``torchrun --nproc_per_node=N ...`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; when they
are present (and ``WORLD_SIZE > 1``) :func:`init_distributed` joins the process group (``gloo``
on CPU, ``nccl`` on CUDA, one GPU per local rank). Without them everything here degrades to a
single process: no group, no wrapping, sums are identities. Only rank 0 writes files
(:attr:`DistContext.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job.

    Attributes
    ----------
    rank, world_size, local_rank:
        As set by ``torchrun`` (0, 1, 0 for a plain single process).
    device:
        The device this rank trains on (``cuda:<local_rank>`` under multi-GPU runs).
    owns_group:
        Whether :func:`init_distributed` created the process group (and so must destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from err


def init_distributed(device: str | torch.device) -> DistContext:
    """Join the ``torchrun`` process group if launched by it; otherwise a single-process context.

    Parameters
    ----------
    device:
        The requested device (``"cpu"``, ``"cuda"``, ``"cuda:0"``, ...). Under a multi-GPU job
        each rank gets ``cuda:<LOCAL_RANK>`` instead of the index given here.
    """
    device = torch.device(device)
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return DistContext(device=device)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend=backend)
    if dist.get_world_size() != world_size:
        raise RuntimeError(
            f"WORLD_SIZE={world_size} but the process group has {dist.get_world_size()} ranks"
        )
    return DistContext(rank, world_size, local_rank, device, owns_group)


def per_rank_batch_size(global_batch_size: int, world_size: int) -> int:
    """``global_batch_size / world_size``, refusing a split that is not exact."""
    if global_batch_size % world_size != 0:
        raise ValueError(
            f"batch_size {global_batch_size} (global) is not divisible by the {world_size} "
            "processes; choose a multiple of the world size"
        )
    return global_batch_size // world_size


def wrap_model(model: nn.Module, ctx: DistContext) -> nn.Module:
    """Wrap in :class:`~torch.nn.parallel.DistributedDataParallel` when running on several ranks."""
    if not ctx.enabled:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (identity for a single process); returns it."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group if this context created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
