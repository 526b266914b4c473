"""The kernel's small files (/proc, cgroupfs), read and written by path strings with os
calls: measuring and supervising touch several per job, and pathlib's paths and buffered
file objects would cost more than the reads and writes themselves."""

from __future__ import annotations

import os


def read(path: str, limit: int = 1 << 16) -> bytes:
    """The file's first `limit` bytes (these files come whole in one read); OSError if it
    cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def write(path: str, data: bytes) -> None:
    """Write `data` in one call, as cgroupfs expects; OSError if refused."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
