"""Warn before the first step when a run cannot fit in the device's memory.

What can be known before running a step is a *lower bound* on the memory training needs:

.. math::

    M \\ge (2 + s)\\,P\\,b_w \\; + \\; B \\sum_k n_k b_k

with ``P`` parameters of ``b_w`` bytes each (the weights, their gradients and ``s`` optimizer
states per parameter: 2 for Adam/AdamW's first and second moments) and the ``B`` samples of a
batch (``n_k`` elements of ``b_k`` bytes per tensor ``k`` of a sample). The activations autograd
keeps for the backward pass are *not* counted: they depend on the architecture (for an FNO about
``B × width × grid points × layers`` values) and usually dominate, so the real peak is higher,
often several times. The warning therefore only fires when even this bound exceeds the memory
the device has free: a model preset far too large, or a batch far too big. A run that passes it
can still run out of memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["MemoryEstimateWarning", "available_memory", "memory_lower_bound", "warn_if_too_large"]


class MemoryEstimateWarning(UserWarning):
    """The memory a run needs at least exceeds what the device has free."""


def memory_lower_bound(
    model: torch.nn.Module,
    sample: Mapping[str, Any],
    batch_size: int,
    *,
    optimizer_states: int = 2,
) -> int:
    """Bytes training needs at least (module docstring): parameters with gradients and
    ``optimizer_states`` states each, plus one batch of ``batch_size`` samples like ``sample``."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    per_sample = sum(
        v.numel() * v.element_size() for v in sample.values() if isinstance(v, torch.Tensor)
    )
    return (2 + optimizer_states) * params + batch_size * per_sample


def available_memory(device: str | torch.device) -> int | None:
    """Free bytes on ``device``: CUDA's free memory, or the host's ``MemAvailable``
    (``/proc/meminfo``; free pages elsewhere). ``None`` when it cannot be read."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def warn_if_too_large(
    model: torch.nn.Module,
    sample: Mapping[str, Any],
    batch_size: int,
    device: str | torch.device,
    *,
    available: int | None = None,
) -> int:
    """Warn (:class:`MemoryEstimateWarning`) when :func:`memory_lower_bound` exceeds the free
    memory of ``device`` (``available`` overrides the measured value). Returns the bound."""
    need = memory_lower_bound(model, sample, batch_size)
    free = available if available is not None else available_memory(device)
    if free is not None and need > free:
        n_params = sum(p.numel() for p in model.parameters())
        warnings.warn(
            f"this run needs at least {need / 2**30:.2f} GiB on {device} ({n_params:,} "
            f"parameters with gradients and Adam states, plus a batch of {batch_size} samples; "
            f"activations not counted) but {free / 2**30:.2f} GiB are free: use a smaller "
            "model or trainer.batch_size, or another device",
            MemoryEstimateWarning,
            stacklevel=2,
        )
    return need
