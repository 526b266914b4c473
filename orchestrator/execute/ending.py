"""How an attempt's process ended, as the supervisor saw it, and what that makes of the attempt."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from orchestrator.execute.signals import signal_name
from orchestrator.models import Attempt, Status
from orchestrator.usage import Usage, out_of_memory

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
    #: What its processes used, where that was measured.
    usage: Usage | None = None
    #: Stopped for going over its memory limit, or failed after the kernel's OOM killer
    #: killed a process of it.
    out_of_memory: bool = False


def describe(outcome: ProcessEnd) -> str:
    """How the attempt ended, in words (its log's footer)."""
    if outcome.timed_out:
        return "timed out"
    if outcome.cancelled:
        return "cancelled"
    if outcome.out_of_memory and outcome.usage is not None:
        return f"out of memory: {out_of_memory(outcome.usage)}"
    if outcome.signal is not None:
        return f"killed by {signal_name(outcome.signal)}"
    return f"exit {outcome.exit_code}"


def attempt_status(outcome: ProcessEnd) -> Status:
    """The attempt's status, before its metrics meet its gates."""
    if outcome.cancelled:
        return Status.CANCELLED
    if outcome.timed_out:
        return Status.TIMED_OUT
    if outcome.out_of_memory:
        return Status.OUT_OF_MEMORY
    return Status.SUCCEEDED if outcome.exit_code == 0 else Status.FAILED


#: The words for the statuses that say all there is to say about how an attempt ended.
_ENDED_AS = {Status.TIMED_OUT: "timed out", Status.CANCELLED: "cancelled", Status.PRUNED: "pruned"}


def why_it_ended(attempt: Attempt) -> str:
    """How a recorded attempt ended, in words (its job's reason when it is the last)."""
    if attempt.error is not None:
        return attempt.error
    if attempt.status in _ENDED_AS:
        return _ENDED_AS[attempt.status]
    if attempt.status is Status.OUT_OF_MEMORY and attempt.usage is not None:
        return out_of_memory(attempt.usage)
    if attempt.signal is not None:
        return f"killed by {signal_name(attempt.signal)}"
    return f"exit {attempt.exit_code}"
