"""Reading the end of job logs, which can be gigabytes: only the tail is ever read."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes as text, starting at a line boundary when cut.

    A log a job replaced with a symlink is not read: its tail would copy whatever file
    it points at (a key, /etc/shadow) into reports that are uploaded as artifacts. A
    FIFO or device in its place is not read either: it may never end.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            end = handle.seek(0, 2)
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return text if end <= size else text.split("\n", 1)[-1]


def tail_lines(path: Path, count: int) -> list[str]:
    return tail(path).splitlines()[-count:]
