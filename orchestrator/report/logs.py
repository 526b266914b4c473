"""Reading the end of job logs, which can be gigabytes: only the tail is ever read."""

from __future__ import annotations

from pathlib import Path


def tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes as text, starting at a line boundary when cut."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, 2)
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return text if end <= size else text.split("\n", 1)[-1]


def tail_lines(path: Path, count: int) -> list[str]:
    return tail(path).splitlines()[-count:]
