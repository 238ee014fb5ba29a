"""Check where a command will write before it does any work.

A generation or training run that only finds out at its last step that ``--out`` names an
existing folder, a path under a file, or an unwritable place loses all of its work. Every
command that writes calls :func:`check_output_file` or :func:`check_output_dir` first; each raises
:class:`OutputPathError` with one line naming the path and what is wrong with it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OutputPathError", "check_output_dir", "check_output_file"]


class OutputPathError(ValueError):
    """An output path that cannot be written: the message names it and the reason."""


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (the folder a ``mkdir -p`` would start in)."""
    here = path
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def _check_creatable(path: Path, what: str) -> None:
    """The closest existing ancestor of ``path`` is a folder this process can write in."""
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise OutputPathError(f"{path}: cannot create the {what}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{path}: cannot create the {what}: the folder {base} is not writable"
        )


def check_output_file(path: str | os.PathLike, *, example_name: str | None = None) -> Path:
    """Refuse an output file path that is an existing folder, lies under a file, or whose folder
    is not writable. ``example_name`` completes the hint for a folder (``adir/<example_name>``).

    An existing *file* is fine: writers replace it atomically once the new one is complete.
    """
    path = Path(path)
    if path.is_dir():
        hint = f", e.g. {path / example_name}" if example_name else ""
        raise OutputPathError(
            f"{path}: is an existing folder; give the path of a file to write{hint}"
        )
    _check_creatable(path, "output folder")
    return path


def check_output_dir(path: str | os.PathLike, *, what: str = "output folder") -> Path:
    """Refuse an output folder path that is an existing file, lies under a file, or cannot be
    written (the folder itself when it exists, else its closest existing ancestor)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(
            f"{path}: is an existing file, not a folder; give another path for the {what}"
        )
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{path}: the {what} is not writable")
        return path
    _check_creatable(path, what)
    return path
