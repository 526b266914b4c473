"""What the executor tells the reporters, as it happens. The executor prints nothing itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orchestrator.models import Attempt, JobResult, Plan, PlannedJob
from orchestrator.usage import UsageSoFar


@dataclass(frozen=True, slots=True)
class RunStarted:
    plan: Plan
    at: float


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    job: PlannedJob
    number: int
    of: int
    at: float


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    job: PlannedJob
    attempt: Attempt
    of: int
    #: Seconds until the next attempt starts, when there will be one.
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class SweepStarted:
    """A sweep opened its study: which one, whether it is new and why, its trials."""

    job: PlannedJob
    study: str
    #: Why a new study starts ("script changed", "--force"); None when one is resumed.
    new_because: str | None
    earlier: str | None
    #: Trials the study had already counted, and the trials left to run.
    done: int
    left: int
    at: float


@dataclass(frozen=True, slots=True)
class JobFinished:
    result: JobResult


@dataclass(frozen=True, slots=True)
class UsageRead:
    """What the running attempts use now, by job id. Read only while a live view shows it
    (the scheduler's `usage_every`): a run nobody watches pays nothing for it."""

    running: tuple[tuple[str, UsageSoFar], ...]
    at: float


@dataclass(frozen=True, slots=True)
class Halted:
    """The run stops early (a signal, --fail-fast): nothing new starts."""

    why: str
    at: float
    #: The signal that caused it ("SIGINT"), or None for --fail-fast.
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class RunFinished:
    results: tuple[JobResult, ...]
    exit_code: int
    started_at: float
    at: float
    summary_path: str | None


Event = (
    RunStarted
    | AttemptStarted
    | AttemptEnded
    | SweepStarted
    | JobFinished
    | UsageRead
    | Halted
    | RunFinished
)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class Fanout:
    """Send each event to several sinks (console, journal, ...), in order."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)
