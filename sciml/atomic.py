"""The one atomic file writer: every file sciml writes appears whole or not at all.

Data goes to a temporary file in the destination folder (same filesystem), is flushed to disk
(``fsync``) and is then renamed over the target with :func:`os.replace`, so a crash, ``SIGKILL``
or full disk mid-write leaves the old file (or none), never a truncated one; the temporary file
is removed on any failure. Files get the mode :func:`open` would give (``0666`` less the umask).

- :func:`atomic_write_bytes` / :func:`atomic_write_text` for data in memory;
- :func:`atomic_path` for writers that want a file name (matplotlib, ``torch.export``, h5py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) to write to; on success it is
    flushed to disk and renamed to ``path``, on any exception removed.

    ``fsync=False`` skips the flush: still atomic against a killed process (the kernel has the
    data), only not against a power loss. For logs.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    try:
        # mkstemp creates the file private (0600); give it the mode open() would
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        yield Path(tmp)
        if fsync:
            # so that after a power loss the rename never points at unwritten data
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(
    data: bytes, paths: Iterable[str | os.PathLike[str]], *, fsync: bool = True
) -> None:
    """Write ``data`` to each of ``paths`` atomically (see the module docstring)."""
    for path in paths:
        with atomic_path(path, fsync=fsync) as tmp:
            tmp.write_bytes(data)


def atomic_write_text(text: str, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(text.encode(), [path], fsync=fsync)
