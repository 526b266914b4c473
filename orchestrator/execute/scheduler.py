"""One loop that runs a plan with any number of workers; sequential is one worker.

Worker threads each supervise one child and post the outcome to an inbox; the main thread
alone decides what starts next, so scheduling needs no locks. Signal handlers post to the
same inbox (SimpleQueue.put is safe to call from a signal handler), which makes Ctrl-C just
another message: the loop stops launching, asks the supervisor to stop running groups, and
still returns a result for every job.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import shlex
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from orchestrator.events import AttemptEnded, AttemptStarted, EventSink, Interrupted, JobFinished
from orchestrator.execute.outputs import read_metrics
from orchestrator.execute.process import (
    ProcessOutcome,
    Supervisor,
    exit_code_for_signal,
    interrupt_handlers,
    signal_name,
)
from orchestrator.models import Attempt, JobResult, Plan, PlannedJob, Status

HEADER_PREFIX = "=== attempt "
DEFAULT_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class _Done:
    job: PlannedJob
    number: int
    outcome: ProcessOutcome


@dataclass(frozen=True, slots=True)
class _Signal:
    signum: int


@dataclass(frozen=True, slots=True)
class RunOutcome:
    results: tuple[JobResult, ...]
    #: The process exit code an interruption demands (130/143), else None.
    interrupted_exit: int | None
    interrupted_by: str | None


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        sink: EventSink,
        *,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        self.plan = plan
        self.sink = sink
        self.grace = grace
        self.supervisor = Supervisor()
        self._inbox: queue.SimpleQueue[_Done | _Signal] = queue.SimpleQueue()
        self._attempts: dict[str, list[Attempt]] = {job.id: [] for job in plan.jobs}
        self._results: dict[str, JobResult] = {}
        self._pending: deque[PlannedJob] = deque()
        self._retries: list[tuple[float, int, PlannedJob]] = []
        self._sequence = itertools.count()
        self._running = 0
        self._signals = 0
        self._interrupted_exit: int | None = None
        self._interrupted_by: str | None = None

    def run(self) -> RunOutcome:
        for job in self.plan.jobs:
            if job.not_runnable:
                self._finish(job, Status.FAILED, reason=f"not run: {job.not_runnable}")
            else:
                self._pending.append(job)
        with interrupt_handlers(lambda signum: self._inbox.put(_Signal(signum))):
            self._loop()
        ordered = tuple(self._results[job.id] for job in self.plan.jobs)
        return RunOutcome(ordered, self._interrupted_exit, self._interrupted_by)

    def _loop(self) -> None:
        while True:
            self._release_due_retries()
            while not self._signals and self._running < self.plan.max_workers and self._pending:
                job = self._pending.popleft()
                self._start(job, len(self._attempts[job.id]) + 1)
            if not self._running and not self._pending and not self._retries:
                return
            try:
                message = self._inbox.get(timeout=self._seconds_to_next_retry())
            except queue.Empty:
                continue
            if isinstance(message, _Signal):
                self._on_signal(message.signum)
            else:
                self._running -= 1
                self._on_done(message)

    def _release_due_retries(self) -> None:
        now = time.monotonic()
        while self._retries and self._retries[0][0] <= now:
            _, _, job = heapq.heappop(self._retries)
            self._pending.appendleft(job)  # a retry goes before jobs not yet started

    def _seconds_to_next_retry(self) -> float | None:
        if not self._retries:
            return None
        return max(0.0, self._retries[0][0] - time.monotonic())

    def _start(self, job: PlannedJob, number: int) -> None:
        self._running += 1
        total = job.retries + 1
        if number == 1:
            Path(job.output_dir).mkdir(parents=True, exist_ok=True)
            Path(job.log_path).write_bytes(b"")  # each run's log starts empty
        header = f"{HEADER_PREFIX}{number}/{total} · {_utc(time.time())} · {shlex.join(job.argv)}"
        self.sink.emit(AttemptStarted(job, number, total, time.time()))
        thread = threading.Thread(
            target=self._supervise, args=(job, number, header), name=f"job-{job.id}", daemon=True
        )
        thread.start()

    def _supervise(self, job: PlannedJob, number: int, header: str) -> None:
        outcome = self.supervisor.run(
            job.argv,
            cwd=job.cwd,
            env=dict(job.env),
            log_path=job.log_path,
            header=header,
            grace=self.grace,
        )
        self._inbox.put(_Done(job, number, outcome))

    def _on_done(self, done: _Done) -> None:
        job, outcome = done.job, done.outcome
        attempt = Attempt(
            number=done.number,
            started_at=outcome.started_at,
            duration=outcome.duration,
            status=_attempt_status(outcome),
            exit_code=outcome.exit_code,
            signal=outcome.signal,
        )
        self._attempts[job.id].append(attempt)
        total = job.retries + 1
        retry = attempt.status in (Status.FAILED, Status.TIMED_OUT) and done.number < total
        retry_in = job.retry_delay if retry and not self._signals else None
        self.sink.emit(AttemptEnded(job, attempt, total, retry_in))
        if retry_in is not None:
            due = time.monotonic() + retry_in
            heapq.heappush(self._retries, (due, next(self._sequence), job))
            return
        if attempt.status is Status.SUCCEEDED:
            metrics, note = read_metrics(job.output_dir, since=attempt.started_at)
            self._finish(job, Status.SUCCEEDED, metrics=metrics, reason=note)
        else:
            self._finish(job, attempt.status, reason=_describe(attempt))

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        forced = self._signals > 1
        self.sink.emit(Interrupted(signal_name(signum), forced, time.time()))
        if forced:
            self.supervisor.kill_all()
            return
        self._interrupted_exit = exit_code_for_signal(signum)
        self._interrupted_by = signal_name(signum)
        why = f"not started: run interrupted by {signal_name(signum)}"
        while self._pending:
            self._finish(self._pending.popleft(), Status.SKIPPED, reason=why)
        while self._retries:
            _, _, job = heapq.heappop(self._retries)
            last = self._attempts[job.id][-1]
            self._finish(job, last.status, reason=f"{_describe(last)}; retry cancelled")
        self.supervisor.cancel_all(self.grace)

    def _finish(
        self,
        job: PlannedJob,
        status: Status,
        *,
        metrics: tuple[tuple[str, float], ...] = (),
        reason: str | None = None,
    ) -> None:
        result = JobResult(job, status, tuple(self._attempts[job.id]), metrics, reason)
        self._results[job.id] = result
        self.sink.emit(JobFinished(result))


def _attempt_status(outcome: ProcessOutcome) -> Status:
    if outcome.cancelled:
        return Status.CANCELLED
    if outcome.timed_out:
        return Status.TIMED_OUT
    return Status.SUCCEEDED if outcome.exit_code == 0 else Status.FAILED


def _describe(attempt: Attempt) -> str:
    if attempt.status is Status.TIMED_OUT:
        return "timed out"
    if attempt.status is Status.CANCELLED:
        return "cancelled"
    if attempt.signal is not None:
        return f"killed by {signal_name(attempt.signal)}"
    return f"exit {attempt.exit_code}"


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
