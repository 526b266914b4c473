"""Writing below the output root without following a symlink a job put in the way.

A job can replace its log, its output dir or a dir above them with a symlink to any file
its user may write; opening such a path as it is would truncate or append to that file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import PurePath


class SymlinkInTheWay(OSError):
    """A path we were to write goes through a symlink below the output root."""


def open_beneath(root: str, path: str, flags: int, mode: int = 0o644) -> int:
    """Open `path` (a path under `root`) following no symlink below `root`.

    A job can replace its log, or the dir it is in, with a symlink to any file its user
    may write; opening the path as it is would then truncate or append to that file.
    O_NOFOLLOW guards only the last component, so each directory is opened from the one
    before it, with O_NOFOLLOW at every step. `root` itself is the user's choice and is
    followed. Raises SymlinkInTheWay naming the first component that is a symlink.
    """
    parent = _walk_beneath(root, path, create=False, last=False)
    try:
        return _open_at(parent, PurePath(path).name, flags, mode, path)
    finally:
        os.close(parent)


def make_dirs_beneath(root: str, path: str) -> None:
    """`mkdir -p path`, under `root`, following no symlink below `root` (see above)."""
    os.close(_walk_beneath(root, path, create=True, last=True))


def symlink_reason(what: str, path: str, exc: SymlinkInTheWay) -> str:
    """Why `path` (a log, an output dir) was not written, for a job's reason."""
    if exc.filename == path:
        return f"{what} {path} is a symlink; not written"
    return f"{what} {path} not written: {exc.filename} is a symlink"


def _walk_beneath(root: str, path: str, *, create: bool, last: bool) -> int:
    """A descriptor of the dir `path` names (`last`) or is in, reached from `root` one
    component at a time; `create` makes the missing ones."""
    parts = PurePath(os.path.relpath(path, root)).parts
    if ".." in parts:
        raise ValueError(f"{path} is not under {root}")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = PurePath(root)
    for part in parts if last else parts[:-1]:
        walked /= part
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            step = _open_at(fd, part, os.O_RDONLY | os.O_DIRECTORY, 0, str(walked))
        finally:
            os.close(fd)
        fd = step
    return fd


def _open_at(dir_fd: int, name: str, flags: int, mode: int, shown: str) -> int:
    """Open `name` in `dir_fd` unless it is a symlink (SymlinkInTheWay, as `shown`)."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        # ELOOP on Linux, but not everywhere (FreeBSD says EMLINK): look, do not guess.
        if _is_symlink(dir_fd, name):
            raise SymlinkInTheWay(errno.ELOOP, "is a symlink", shown) from exc
        raise


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
