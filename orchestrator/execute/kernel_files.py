"""The kernel's small files (/proc, cgroupfs), read and written by path strings with os
calls: measuring and supervising touch several per job, and pathlib's paths and buffered
file objects would cost more than the reads and writes themselves.

The files of a run's own cgroups are also kept open while the run has them (`hold`):
each job reads or writes about ten of them, and opening one, a walk down a deep cgroupfs
path, costs more than what is done with it. A cgroup file answers afresh to every read
from its start, and takes any number of writes. At most `MAX_HELD` are kept, the oldest
closed first, so that the descriptors a run needs do not grow with its parallel jobs:
a one-at-a-time run keeps all of its files open, a parallel one as many as fit.
"""

from __future__ import annotations

import contextlib
import os

#: Where files are kept open: each a directory's path and "/", or one file's path.
_held_prefixes: tuple[str, ...] = ()
#: The descriptors kept open, by path and open mode, oldest first.
_held: dict[tuple[str, int], int] = {}
#: The most descriptors kept open at once: one job's files in both hierarchies, and more.
MAX_HELD = 16


def read(path: str, limit: int = 1 << 16) -> bytes:
    """The file's first `limit` bytes (these files come whole in one read); OSError if it
    cannot be read."""
    if path.startswith(_held_prefixes):
        return os.pread(_open_held(path, os.O_RDONLY), limit, 0)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def write(path: str, data: bytes) -> None:
    """Write `data` in one call, as cgroupfs expects; OSError if refused."""
    if path.startswith(_held_prefixes):
        os.write(_open_held(path, os.O_WRONLY), data)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def hold(prefix: str) -> None:
    """Keep the files whose paths start with `prefix` (a directory's path and "/", or a
    file's path) open once used, until `release(prefix)`."""
    global _held_prefixes  # noqa: PLW0603 -- the few prefixes of this process's run
    release(prefix)  # a cgroup made anew where one of ours was: none of the old descriptors
    _held_prefixes = (*_held_prefixes, prefix)


def release(prefix: str) -> None:
    """Close the files `hold(prefix)` kept, as their cgroups are removed: a descriptor kept
    would still be the removed cgroup's (failing with ENODEV), not that of one made later
    at the same path."""
    global _held_prefixes  # noqa: PLW0603
    _held_prefixes = tuple(p for p in _held_prefixes if p != prefix)
    for key in [key for key in _held if key[0].startswith(prefix)]:
        with contextlib.suppress(OSError):
            os.close(_held.pop(key))


def _open_held(path: str, mode: int) -> int:
    fd = _held.get((path, mode))
    if fd is None:
        if len(_held) >= MAX_HELD:
            with contextlib.suppress(KeyError, StopIteration, OSError):
                os.close(_held.pop(next(iter(_held))))
        fd = os.open(path, mode | os.O_CLOEXEC)
        kept = _held.setdefault((path, mode), fd)
        if kept != fd:  # another thread opened it meanwhile
            os.close(fd)
            fd = kept
    return fd
