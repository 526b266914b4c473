"""The sweeps of one run: which trial belongs to which sweep, and which the pruner stopped.

A sweep job runs no process itself: its driver (execute/sweep.py) asks for trials, which
the scheduler queues and runs as jobs of their own, and hears back each trial's result.
This keeps that bookkeeping, and the polling of running trials' progress for the pruner,
out of the scheduler's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from orchestrator.events import SweepStarted
from orchestrator.models import JobResult, PlannedJob, Status

#: How often running sweep trials' progress.jsonl files are read for pruning.
PROGRESS_POLL = 0.5


class SweepRunner(Protocol):
    """What the scheduler needs of a sweep driver (execute/sweep.py)."""

    @property
    def done(self) -> bool: ...
    def begin(self) -> list[PlannedJob]: ...
    def tell(self, result: JobResult) -> list[PlannedJob]: ...
    def should_prune(self, job: PlannedJob) -> bool: ...
    def stop(self) -> None: ...
    def announcement(self) -> SweepStarted | None: ...
    def outcome(
        self,
    ) -> tuple[Status, tuple[tuple[str, float], ...], str | None, dict[str, Any]]: ...


class SweepTrials:
    def __init__(self, drivers: Callable[[PlannedJob], SweepRunner] | None) -> None:
        """`drivers` makes a sweep job's driver; None where sweeps cannot run."""
        self._make_driver = drivers
        self._drivers: dict[str, SweepRunner] = {}
        self._parent: dict[str, PlannedJob] = {}
        self._trials: dict[str, list[str]] = {}
        self._pruned: set[str] = set()
        self._last_poll = 0.0

    @property
    def available(self) -> bool:
        return self._make_driver is not None

    def open(self, job: PlannedJob) -> SweepRunner:
        assert self._make_driver is not None  # the caller checks `available`
        driver = self._drivers[job.id] = self._make_driver(job)
        return driver

    def driver(self, sweep_id: str) -> SweepRunner:
        return self._drivers[sweep_id]

    def adopt(self, sweep: PlannedJob, trials: Iterable[PlannedJob]) -> None:
        for trial in trials:
            self._parent[trial.id] = sweep
            self._trials.setdefault(sweep.id, []).append(trial.id)

    def sweep_of(self, job_id: str) -> PlannedJob | None:
        """The sweep the job is a trial of, or None for a job of the plan."""
        return self._parent.get(job_id)

    def trials_of(self, sweep_id: str) -> tuple[str, ...]:
        """The sweep's trials' ids, in the order they were asked."""
        return tuple(self._trials.get(sweep_id, ()))

    def was_pruned(self, job_id: str) -> bool:
        return job_id in self._pruned

    def stop_all(self) -> None:
        for driver in self._drivers.values():
            driver.stop()

    # ------------------------------------------------------------------------- pruning
    def seconds_to_poll(self, now: float, running: Iterable[str]) -> float | None:
        """Until running trials' progress is next read; None with no trial running."""
        if any(job_id in self._parent for job_id in running):
            return self._last_poll + PROGRESS_POLL - now
        return None

    def to_prune(self, now: float, running: Iterable[PlannedJob]) -> list[str]:
        """Report running trials' progress to their sweep: the ids the pruner gives up on."""
        if now - self._last_poll < PROGRESS_POLL:
            return []
        self._last_poll = now
        pruned = []
        for job in running:
            parent = self._parent.get(job.id)
            if parent and job.id not in self._pruned and self._drivers[parent.id].should_prune(job):
                self._pruned.add(job.id)
                pruned.append(job.id)
        return pruned
