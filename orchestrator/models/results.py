"""What execute produces: each attempt, each job's outcome, and the statuses they end in."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models.planned import PlannedJob
from orchestrator.usage import Usage


class Status(str, enum.Enum):
    """A job's final state; also an attempt's outcome (succeeded/failed/timed_out/cancelled)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    GATE_FAILED = "gate_failed"
    #: A sweep trial stopped early because Optuna's pruner judged it hopeless.
    PRUNED = "pruned"
    #: Not run: unchanged since its last success, whose outputs are still in place.
    CACHED = "cached"
    #: Not run: `--resume`/`--rerun-failed` kept the success of an earlier run.
    REUSED = "reused"
    #: Failed with a process killed for memory: by the kernel's OOM killer, or by us for
    #: going over its `memory_limit`.
    OUT_OF_MEMORY = "out_of_memory"

    @property
    def ok(self) -> bool:
        """Counts as success: for the exit code and for the jobs that need this one."""
        return self in {Status.SUCCEEDED, Status.CACHED, Status.REUSED}

    def __str__(self) -> str:
        return self.value


@frozen_dataclass
class Attempt:
    """One execution of a job's argv."""

    number: int
    started_at: float
    duration: float
    status: Status
    exit_code: int | None = None
    #: The signal that ended the child, when it died of one.
    signal: int | None = None
    #: Where it ran (a Ray node id), when not on this machine.
    node: str | None = None
    #: What went wrong outside the job itself, e.g. "node_lost" (its Ray worker died).
    error: str | None = None
    #: What its processes used, where it was measured.
    usage: Usage | None = None
    #: The GPU devices it ran on (its CUDA_VISIBLE_DEVICES), when it held any.
    gpu_devices: tuple[str, ...] = ()


@frozen_dataclass
class ReusedResult:
    """A result that stands without running the job (cached, or reused on --resume)."""

    status: Status
    reason: str
    metrics: tuple[tuple[str, float], ...] = ()
    #: The summary or run the result comes from.
    from_run: str | None = None


@frozen_dataclass
class JobResult:
    """A job's outcome after all its attempts."""

    job: PlannedJob
    status: Status
    attempts: tuple[Attempt, ...] = ()
    metrics: tuple[tuple[str, float], ...] = ()
    reason: str | None = None
    from_run: str | None = None
    #: For a sweep: best value and params, trial counts, importances (JSON-ready).
    sweep: Mapping[str, Any] | None = None
