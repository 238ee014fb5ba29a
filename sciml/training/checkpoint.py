"""Atomic checkpoint files and the RNG snapshots that make a resumed run bit-identical.

A checkpoint is a plain dict saved with :func:`torch.save`. Writes go to a temporary file in the
destination directory, are flushed to disk and then renamed over the target with
:func:`os.replace`, so a crash (or ``SIGKILL``) mid-write leaves either the old file or the new
one, never a truncated one. Everything stored is loadable with ``weights_only=True`` (tensors and
Python primitives only): the NumPy RNG state is converted to a tensor for that reason.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.atomic import atomic_write_bytes

#: Keys every trainer checkpoint carries (see :class:`sciml.training.Trainer`).
REQUIRED_KEYS = ("model", "optimizer", "scheduler", "step", "epoch", "rng", "val_loss")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or lacks required entries."""


def save_checkpoint(state: dict[str, Any], *paths: str | os.PathLike[str]) -> None:
    """Serialize ``state`` once and write it atomically to every path in ``paths``."""
    if not paths:
        raise ValueError("save_checkpoint needs at least one destination path")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(buffer.getvalue(), paths)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Load a trainer checkpoint, with a clear :class:`CheckpointError` if it is unusable.

    Parameters
    ----------
    path:
        A ``.pt`` file written by the trainer (``run_dir/checkpoints/{last,best,step_N}.pt``).
    map_location:
        Where tensors are placed, as in :func:`torch.load` (default: CPU).

    Returns
    -------
    dict
        At least ``model`` (a ``state_dict``), ``optimizer``, ``scheduler``, ``step``, ``epoch``,
        ``rng`` and ``val_loss`` (``None`` if no validation had run yet).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(_refused_pickle(path, err)) from err
    # The (weights-only) unpickler fails on garbage with arbitrary exception types (IndexError,
    # KeyError, UnpicklingError, ...): any failure to load means the file is unusable.
    except Exception as err:
        raise CheckpointError(
            f"{path}: checkpoint is corrupt or truncated and cannot be loaded ({err})"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, found {type(state).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a sciml trainer checkpoint, missing entries {missing} "
            f"(expected {list(REQUIRED_KEYS)})"
        )
    return state


def _refused_pickle(path: Path, err: pickle.UnpicklingError) -> str:
    """One line for a file the weights-only unpickler refused: a Python object it would have had
    to rebuild (``torch.load``'s own message is several paragraphs), or plain garbage."""
    text = " ".join(str(err).split())
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found is None:
        detail = re.search(r"Unsupported operand \d+|invalid load key[^.]*", text)
        reason = detail.group(0) if detail else text.split(". ")[0]
        return f"{path}: checkpoint is corrupt or truncated and cannot be loaded ({reason})"
    return (
        f"{path}: refused: the file asks to rebuild the Python object {found.group(1)}, not only "
        "tensors and numbers; loading it could run arbitrary code, so sciml reads checkpoints "
        "with torch.load(weights_only=True). A sciml checkpoint never holds such objects: this "
        "file was not written by sciml, or was altered"
    )


def capture_rng_state() -> dict[str, Any]:
    """Snapshot the Python, NumPy, torch CPU (and CUDA, if initialized) generators."""
    version, mt_state, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    rng: dict[str, Any] = {
        "python": (version, mt_state, gauss_next),
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng_state(rng: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, mt_state, gauss_next = rng["python"]
    random.setstate((version, tuple(mt_state), gauss_next))
    np_state = rng["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
