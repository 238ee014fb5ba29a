"""One training process per run directory: an advisory lock a crashed run cannot leave stuck.

Two ``sciml train`` processes writing the same run directory would interleave checkpoints and
logs, and a second ``--overwrite`` would delete the first one's files under it. A run therefore
holds an exclusive :func:`fcntl.flock` on ``<parent>/.<run name>.lock`` (next to the run
directory, so ``--overwrite`` can replace the directory without dropping the lock). The kernel
drops a ``flock`` when its holder dies, also on ``kill -9``, so a crashed run never leaves the
directory locked: the next run takes the lock, whatever file the crash left behind. The file records who holds it (pid, host, start
time, command) for the message the refused process prints.

:func:`acquire_run_lock` holds the lock until the process exits (or :func:`release_run_lock`;
the CLI releases every lock when its command ends, also on an error); acquiring it again from the
same process is a no-op, so an interactive session can train into the same directory twice. :func:`run_lock` is the scoped form. Under ``torchrun`` only rank 0
takes the lock (all ranks of one job share the directory). POSIX only (``fcntl``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sciml.rundir import RunDirError

__all__ = [
    "RunLockError",
    "acquire_run_lock",
    "lock_path",
    "release_all_run_locks",
    "release_run_lock",
    "run_lock",
]

#: run directory (resolved) → (descriptor holding the flock, lock file, folders made for it,
#: pid of the holder: a forked child, e.g. a DataLoader worker, inherits this dict but not the
#: lock's ownership)
_HELD: dict[Path, tuple[int, Path, list[Path], int]] = {}


class RunLockError(RunDirError):
    """Another process holds the run directory (the message names it), or the lock cannot be
    created."""


def lock_path(run_dir: str | os.PathLike) -> Path:
    """The lock file of ``run_dir``: ``<parent>/.<name>.lock`` of its resolved path."""
    resolved = Path(run_dir).resolve()
    return resolved.parent / f".{resolved.name or 'root'}.lock"


def _holder(fd: int) -> str:
    """Who holds the lock, from what the holder wrote into the file (best effort)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a process that has not yet written its name"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid')} on {info.get('host')}, since {started}: {info.get('command')}"


def acquire_run_lock(run_dir: str | os.PathLike) -> Path | None:
    """Take the lock of ``run_dir`` for the rest of this process (see the module docstring).

    Returns the lock file (``None`` on a torchrun rank other than 0). Raises
    :class:`RunLockError` naming the holder when another process has it.
    """
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    key = Path(run_dir).resolve()
    if key in _HELD and _HELD[key][3] == os.getpid():
        return _HELD[key][1]
    path = lock_path(key)
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunLockError(f"{run_dir}: cannot create the run directory: {exc}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            _remove_empty(made)
            raise RunLockError(f"{run_dir}: cannot create the lock file {path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            _remove_empty(made)
            raise RunLockError(
                f"{run_dir}: another sciml process is using this run directory ({holder}); wait "
                f"for it to finish or stop it, then run again (lock file {path})"
            ) from None
        # A holder releasing at this moment unlinks the file after we opened it: our lock is
        # then on a file nobody else will open. Retry on the file the path names now.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.time(),
        "command": " ".join(sys.argv),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    if not _HELD:
        atexit.register(release_all_run_locks)
    _HELD[key] = (fd, path, made, os.getpid())
    return path


def release_run_lock(run_dir: str | os.PathLike) -> None:
    """Drop the lock of ``run_dir`` taken by this process (a no-op if it holds none)."""
    held = _HELD.pop(Path(run_dir).resolve(), None)
    if held is None or held[3] != os.getpid():
        return  # (an inherited entry: the parent's lock is not this process's to drop)
    fd, path, made, _ = held
    # unlink before unlocking: a waiter that already opened the file sees it gone and retries
    path.unlink(missing_ok=True)
    os.close(fd)
    _remove_empty(made)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders made for a lock file if nothing else was put in them (a run that
    failed before writing leaves no empty ``runs/`` behind)."""
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def release_all_run_locks() -> None:
    """Drop every lock this process holds (the CLI calls it when a command ends)."""
    for run_dir in list(_HELD):
        release_run_lock(run_dir)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path | None]:
    """``with run_lock(run_dir):`` holds the lock for the block (re-entrant like
    :func:`acquire_run_lock`: an outer holder in this process keeps it after the block)."""
    held = _HELD.get(Path(run_dir).resolve())
    outer = held is not None and held[3] == os.getpid()
    path = acquire_run_lock(run_dir)
    try:
        yield path
    finally:
        if not outer:
            release_run_lock(run_dir)
