"""An attempt's log: one descriptor from our header, through the child's output, to our
footer. O_APPEND keeps our lines after whatever the child wrote through its copy."""

from __future__ import annotations

import os

from orchestrator.execute.beneath import open_beneath


def open_log(log_path: str, root: str | None, *, fresh: bool, header: str) -> int:
    """Open the log for appending, emptied first if `fresh` (a job's first attempt), and
    write `header`. With `root` (the output root), no symlink below it on the way to the
    log is followed (see `open_beneath`): raises SymlinkInTheWay, or OSError."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
    if root is None:
        fd = os.open(log_path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    else:
        fd = open_beneath(root, log_path, flags)
    try:
        # Not O_TRUNC: truncating even an empty file makes ext4 flush it at close
        # (auto_da_alloc), a cost per job for the logs of a fresh output root.
        if fresh and os.fstat(fd).st_size:
            os.ftruncate(fd, 0)
        os.write(fd, header.encode("utf-8", "replace") + b"\n")
    except OSError:
        os.close(fd)
        raise
    return fd


def append_footer(fd: int, how: str, duration: float) -> None:
    """Close the attempt in the log, on a line of its own even if the child left none."""
    footer = f"=== {how} after {duration:.2f}s\n".encode()
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        footer = b"\n" + footer
    os.write(fd, footer)  # the fd is O_APPEND: this lands after everything the child wrote
