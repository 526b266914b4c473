"""Reading the end of job logs, which can be gigabytes: only the tail is ever read."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

#: CSI (colours, cursor moves) and OSC (window titles, links) sequences and other
#: escapes, as training libraries' loggers and progress bars print them into a log.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes as text, starting at a line boundary when cut; a carriage
    return ends a line too (a progress bar's frames are lines, the last the live one)."""
    return _raw_tail(path, size).replace("\r", "\n")


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines as a terminal showed them, for reports: a line a progress
    bar redrew with carriage returns is its last frame, and colours are gone.

    Split at every carriage return, tqdm's hundreds of frames per epoch filled a 50-line
    tail, and pushed the epochs' ends and the traceback's first lines out of it.
    """
    text = _ESCAPES.sub("", _raw_tail(path))
    shown = (_last_frame(line) for line in text.split("\n"))
    return "\n".join(shown).splitlines()[-count:]


def _last_frame(line: str) -> str:
    """What is left of a line after its carriage returns: its last non-empty frame."""
    return next((frame for frame in reversed(line.split("\r")) if frame), "")


def _raw_tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes as text (CRLF read as LF), starting at a line boundary when cut.

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
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return text if end <= size else text.split("\n", 1)[-1]
