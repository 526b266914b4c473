"""Reading the end of job logs, which can be gigabytes: only the tail is ever read."""

from __future__ import annotations

import calendar
import os
import re
import stat
import time
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


#: An attempt's header line, as the scheduler writes it: the first line of a job's log.
_HEADER = re.compile(rb"=== attempt \d+/\d+ \xc2\xb7 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")


def written_by_run(path: Path, started: float, ended: float) -> bool:
    """Whether the log is the one a run from `started` to `ended` wrote, as far as its
    first header (each run starts a job's log afresh) says; a log with none is taken as
    it is. A later run rewrites logs/<job>.log, and `show` of an older summary printed
    that run's output as this one's failure; runs on one output root never overlap.
    """
    match = _HEADER.match(_read(path, 256, from_end=False))
    if match is None:
        return True
    written = calendar.timegm(time.strptime(match[1].decode(), "%Y-%m-%dT%H:%M:%SZ"))
    return started - 1 <= written <= ended + 1  # the header is to the second


def _last_frame(line: str) -> str:
    """What is left of a line after its carriage returns: its last non-empty frame."""
    return next((frame for frame in reversed(line.split("\r")) if frame), "")


def _raw_tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes as text (CRLF read as LF), starting at a line boundary when cut.

    A log a job replaced with a symlink is not read: its tail would copy whatever file
    it points at (a key, /etc/shadow) into reports that are uploaded as artifacts. A
    FIFO or device in its place is not read either: it may never end.
    """
    data = _read(path, size + 1, from_end=True)
    text = data[-size:].decode("utf-8", "replace").replace("\r\n", "\n")
    return text.split("\n", 1)[-1] if len(data) > size else text


def _read(path: Path, size: int, *, from_end: bool) -> bytes:
    """At most `size` bytes from the end or the start of a regular file; b"" for anything
    else (see `_raw_tail`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return b""
            if from_end:
                handle.seek(max(0, handle.seek(0, 2) - size))
            return handle.read(size)
    except OSError:
        return b""
