"""Device names → :class:`torch.device`, checked against this machine (used by every layer)."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device ``device`` names, if this machine has it.

    Raises :class:`ValueError` with a one-line reason: not a device name, CUDA absent, or a CUDA
    index this machine lacks. Callers check before writing anything, so a bad choice costs
    nothing.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device name (e.g. 'cpu', 'cuda', 'cuda:1')"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} but CUDA is not available; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA "
                "device(s), numbered from 0"
            )
    return dev
