"""stdout and stderr that a lost console cannot stop: set up before anything prints.

Apart from the console module, so that `--help` need not load what the console prints.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from pathlib import Path
from typing import TextIO


class LosableStream(io.TextIOWrapper):
    """stdout or stderr that, once a write fails, stops printing instead of raising.

    Console output is the least important thing a run writes. Without this, `| head -1`,
    a `tee` that Ctrl-C killed first, or a closed terminal (EPIPE, EIO) raised out of the
    next print: the orchestrator died silently, its jobs lost their grace, no summary.
    """

    def __init__(self, stream: io.TextIOWrapper) -> None:
        stream.flush()  # the old wrapper shares our buffer: nothing of its own may be left
        super().__init__(
            stream.buffer,
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=stream.line_buffering,
            write_through=stream.write_through,
        )
        self.loss: OSError | None = None
        #: A run said the loss itself, and keeps the exit code its jobs make.
        self.loss_reported = False

    def write(self, text: str) -> int:
        if self.loss is None:
            try:
                return super().write(text)
            except OSError as exc:
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if self.loss is None:
            try:
                super().flush()
            except OSError as exc:
                self._lose(exc)

    def _lose(self, exc: OSError) -> None:
        self.loss = exc
        # What the buffer still holds is flushed again when Python exits; on the dead
        # descriptor that is "Exception ignored ... BrokenPipeError" and exit 120, so the
        # descriptor goes to /dev/null (Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.fileno())
        os.close(devnull)


def lost_output() -> OSError | None:
    """Why stdout stopped taking text, unless its reader simply left (EPIPE: `| head`).

    For a command whose product is what it prints (`--list`, `--dry-run --format json`,
    `config-schema`, `show`), a full disk or an I/O error means a truncated file that a
    script would take for the whole: that must not exit 0."""
    stdout = sys.stdout
    if not isinstance(stdout, LosableStream) or stdout.loss is None or stdout.loss_reported:
        return None
    return None if stdout.loss.errno == errno.EPIPE else stdout.loss


def keep_running_without_a_console() -> None:
    """From here on, no print to stdout or stderr can stop the process or change its exit."""
    sys.stderr = _losable(sys.stderr)
    sys.stdout = _losable(sys.stdout)


def _losable(stream: TextIO | None) -> TextIO:
    if isinstance(stream, io.TextIOWrapper):
        return LosableStream(stream)
    if stream is None:  # started with the descriptor closed (`>&-`): print to nowhere
        return Path(os.devnull).open("w", encoding="utf-8")
    return stream  # already replaced (a test's capture): its owner handles it
