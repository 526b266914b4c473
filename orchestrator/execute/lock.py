"""One run at a time per output root: two runs writing the same logs and summaries would
corrupt each other's record of what happened."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from orchestrator.errors import OrchestratorError

LOCK_FILE = ".train_orch/run.lock"


@contextlib.contextmanager
def run_lock(output_root: Path) -> Iterator[None]:
    """Hold the output root's lock for the block; refuse if another live run holds it.

    The file names the holder's pid for the message. An flock dies with its process, so
    a lock left by a run that was killed is simply taken over.
    """
    path = output_root / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OrchestratorError(f"cannot write to {output_root}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise OrchestratorError(
            f"another run (pid {holder}) is using {output_root}; "
            "wait for it to finish or choose another --output-root"
        ) from None
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a full disk: nothing of the run could be written either
            raise OrchestratorError(f"cannot write to {output_root}: {exc.strerror}") from None
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
