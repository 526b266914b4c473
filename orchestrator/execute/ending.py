"""How an attempt's process ended, as the supervisor saw it."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from orchestrator.execute.signals import signal_name

#: Exit status a shell reports for a command it cannot start; we use it the same way.
CANNOT_START = 127
#: Why a program cannot start that a retry would meet again: it is missing, not
#: executable, a directory, not a program. Not EAGAIN, ENOMEM, EMFILE: those pass.
FOR_GOOD = frozenset(
    {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.ENOEXEC}
)


@dataclass(frozen=True, slots=True)
class ProcessEnd:
    exit_code: int | None
    signal: int | None
    started_at: float
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    node: str | None = None
    error: str | None = None
    #: Another attempt would end the same way (a missing program, no execute bit): the
    #: cause is outside the job, and nothing a few seconds of waiting changes.
    permanent: bool = False


def describe(outcome: ProcessEnd) -> str:
    """How the attempt ended, in words (its log's footer)."""
    if outcome.timed_out:
        return "timed out"
    if outcome.cancelled:
        return "cancelled"
    if outcome.signal is not None:
        return f"killed by {signal_name(outcome.signal)}"
    return f"exit {outcome.exit_code}"
