"""One loop that runs a plan with any number of workers; sequential is one worker.

The loop starts attempts on a backend and waits on it for the ones that end; one thread
decides what starts next, so scheduling needs no locks. A signal handler only notes the
signal and wakes the backend's wait, which makes Ctrl-C just another thing the loop
handles: it stops launching, asks the backend to stop running groups, and still returns a
result for every job.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.events import (
    AttemptEnded,
    AttemptStarted,
    EventSink,
    Halted,
    JobFinished,
    UsageRead,
)
from orchestrator.execute.backend import Backend, LocalBackend
from orchestrator.execute.ending import ProcessEnd, attempt_status, why_it_ended
from orchestrator.execute.job_files import read_metrics
from orchestrator.execute.ready_queue import ReadyQueue
from orchestrator.execute.signals import exit_code_for_signal, interrupt_handlers, signal_name
from orchestrator.execute.stager import Stager
from orchestrator.execute.sweep_trials import SweepRunner, SweepTrials
from orchestrator.gates import failed_gates
from orchestrator.models import Attempt, JobResult, Plan, PlannedJob, ReusedResult, Status
from orchestrator.secrets import redact, redact_file

HEADER_PREFIX = "=== attempt "
#: Statuses that end a run early under --fail-fast when a required job ends with them.
FAILING = frozenset({Status.FAILED, Status.TIMED_OUT, Status.OUT_OF_MEMORY, Status.GATE_FAILED})


@dataclass(frozen=True, slots=True)
class _Done:
    job: PlannedJob
    number: int
    outcome: ProcessEnd


@dataclass(frozen=True, slots=True)
class RunOutcome:
    results: tuple[JobResult, ...]
    #: The signal that interrupted the run ("SIGINT"), if one did.
    interrupted_by: str | None
    #: The process exit code that interruption demands (130/143/129), else None.
    interrupted_exit: int | None


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        sink: EventSink,
        reused: Mapping[str, ReusedResult] | None = None,
        sweeps: Callable[[PlannedJob], SweepRunner] | None = None,
        backend: Backend | None = None,
        *,
        usage_every: float | None = None,
    ) -> None:
        """`usage_every`: seconds between read-outs of what running attempts use (a
        `UsageRead` event), for a live view; None reads nothing."""
        self.plan = plan
        self.sink = sink
        self.reused = reused or {}
        self._sweeps = SweepTrials(sweeps)
        self._own_backend = backend is None
        self.backend: Backend = backend or LocalBackend(plan.output_root)
        #: Signals noted by the handler, handled by the loop (deque.append is atomic).
        self._signalled: collections.deque[int] = collections.deque()
        #: Attempts whose start raised: they end as failures on the loop's next turn.
        self._unstarted: list[tuple[str, ProcessEnd]] = []
        self._attempts: dict[str, list[Attempt]] = {job.id: [] for job in plan.jobs}
        self._results: dict[str, JobResult] = {}
        self._queue = ReadyQueue(
            [job for job in plan.jobs if not job.not_runnable and job.id not in self.reused],
            max_workers=plan.max_workers,
            cpus=plan.cpus,
            memory=plan.memory,
            gpu_devices=plan.gpu_devices,
        )
        # A core is spare when Ray runs the jobs (they use none of ours) or when fewer
        # workers than cores run here.
        spare_core = not self._own_backend or plan.max_workers < _usable_cores()
        self._stager = Stager(plan.output_root, ahead=spare_core, max_workers=plan.max_workers)
        self._signals = 0
        self._interrupted: int | None = None
        self._usage_every = usage_every
        self._usage_due = time.monotonic()

    def run(self) -> RunOutcome:
        """Run every job; call inside `handling_signals()` so Ctrl-C stops it cleanly."""
        for job in self.plan.jobs:
            if job.not_runnable:
                self._finish(job, Status.FAILED, reason=f"not run: {job.not_runnable}")
            elif job.id in self.reused:
                kept = self.reused[job.id]
                self._finish(
                    job,
                    kept.status,
                    metrics=kept.metrics,
                    reason=kept.reason,
                    from_run=kept.from_run,
                )
        try:
            self._loop()
        finally:
            self._stager.stop()
            if self._own_backend:
                self.backend.close()
        ordered = tuple(
            self._results[job_id]
            for job in self.plan.jobs
            for job_id in (job.id, *self._sweeps.trials_of(job.id))
        )
        signum = self._interrupted
        return RunOutcome(
            ordered,
            signal_name(signum) if signum else None,
            exit_code_for_signal(signum) if signum else None,
        )

    def handling_signals(self) -> contextlib.AbstractContextManager[None]:
        """Route SIGINT/SIGTERM/SIGHUP into the run's inbox until the block ends.

        The caller keeps the block open while it writes the summary, so a signal that
        arrives then is absorbed instead of killing the orchestrator halfway through.
        """
        return interrupt_handlers(self._note_signal)

    def _note_signal(self, signum: int) -> None:
        self._signalled.append(signum)
        self.backend.wake()

    # ----------------------------------------------------------------------- the loop
    def _loop(self) -> None:
        while True:
            while self._signalled:  # first: nothing starts after a Ctrl-C
                self._on_signal(self._signalled.popleft())
            self._queue.release_due_retries(time.monotonic())
            while (job := self._queue.next_ready()) is not None:
                self._start(job)  # may finish a job at once (a sweep with nothing left)
            if not self._queue:
                return
            if not self._queue.closed:
                self._stager.stage_ahead(self._queue.waiting())
            ended, self._unstarted = self._unstarted, []
            ended += self.backend.wait(0.0 if ended else self._seconds_to_next_wake())
            while self._signalled:
                self._on_signal(self._signalled.popleft())
            self._read_usage()
            done = [(self._queue.ended(job_id), outcome) for job_id, outcome in ended]
            started_early: list[AttemptStarted] = []
            if done and all(self._recording_cannot_change_next(*item) for item in done):
                # Start what comes next first: it runs while the attempts are recorded.
                # Its start is told after them, so the journal never shows a job starting
                # before the end that made room for it: killed in between, a run would
                # otherwise lose a success that its --resume would then run again.
                finished = {job.id for job, _ in done}
                while (successor := self._queue.next_ready(unless_it_needs=finished)) is not None:
                    self._start(successor, tell=started_early.append)
            for job, outcome in done:
                self._on_done(_Done(job, len(self._attempts[job.id]) + 1, outcome))
            for event in started_early:
                self.sink.emit(event)
            self._poll_progress()  # after the ended are recorded: none of them is pruned

    def _recording_cannot_change_next(self, job: PlannedJob, outcome: ProcessEnd) -> bool:
        """True when recording this attempt cannot change which jobs start next.

        Recording (metrics, gates, events, journal) takes time the next child can spend
        running. It can change the choice when the attempt failed (a retry goes first; a
        halt or a skip may follow), when a clean exit may still fail gates under
        --fail-fast, when a sweep trial's result decides the next trials, and when a due
        retry goes first.
        """
        clean = outcome.exit_code == 0 and not (outcome.timed_out or outcome.cancelled)
        return (
            clean
            and not (self.plan.fail_fast and job.gates)
            and self._sweeps.sweep_of(job.id) is None
            and not self._queue.retry_due(time.monotonic())
        )

    def _seconds_to_next_wake(self) -> float | None:
        """Until the next retry is due, or the next progress poll of running trials."""
        now = time.monotonic()
        waits = [
            wait
            for wait in (
                self._queue.seconds_to_next_retry(now),
                self._sweeps.seconds_to_poll(now, self._queue.running),
                None if self._usage_every is None else self._usage_due - now,
            )
            if wait is not None
        ]
        return max(0.0, min(waits)) if waits else None

    def _read_usage(self) -> None:
        """Tell what the running attempts use now, when a read-out is due."""
        now = time.monotonic()
        if self._usage_every is None or now < self._usage_due:
            return
        self._usage_due = now + self._usage_every
        running = self.backend.usage_so_far()
        if running:
            self.sink.emit(UsageRead(tuple(running.items()), time.time()))

    def _poll_progress(self) -> None:
        """Stop the running trials the pruner gives up on."""
        running = list(self._queue.running.values())
        for job_id in self._sweeps.to_prune(time.monotonic(), running):
            self.backend.stop(job_id)

    # --------------------------------------------------------------------- one attempt
    def _start(self, job: PlannedJob, tell: Callable[[AttemptStarted], None] | None = None) -> None:
        """Start the job's next attempt; `tell` takes its AttemptStarted instead of the sink."""
        if job.sweep is not None:
            self._start_sweep(job)
            return
        problem = self._stager.stage(job)
        if problem is not None:
            self._finish(job, Status.FAILED, reason=problem)
            return
        number = len(self._attempts[job.id]) + 1
        total = job.retries + 1
        now = time.time()
        command = redact(shlex.join(job.argv), job.secrets)
        header = f"{HEADER_PREFIX}{number}/{total} · {_utc(now)} · {command}"
        self._queue.started(job)
        try:
            self.backend.start(job, header, fresh_log=number == 1)
        except Exception as exc:  # a backend bug must not leave the loop waiting forever
            error = f"{type(exc).__name__}: {exc}"
            self._unstarted.append((job.id, ProcessEnd(None, None, now, 0.0, error=error)))
        # Told once the child runs: the event's journal line and console output need not
        # delay it.
        (tell or self.sink.emit)(AttemptStarted(job, number, total, now))

    def _on_done(self, done: _Done) -> None:
        job, outcome = done.job, done.outcome
        if job.secrets:  # the child may have printed one; the log is an artifact
            with contextlib.suppress(OSError):
                redact_file(Path(job.log_path), job.secrets)
        attempt = Attempt(
            number=done.number,
            started_at=outcome.started_at,
            duration=outcome.duration,
            status=Status.PRUNED if self._sweeps.was_pruned(job.id) else attempt_status(outcome),
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            node=outcome.node,
            error=outcome.error,
            usage=outcome.usage,
            gpu_devices=job.gpu_devices,
        )
        self._attempts[job.id].append(attempt)
        retry_in = None if outcome.permanent else self._retry_delay(job, attempt)
        self.sink.emit(AttemptEnded(job, attempt, job.retries + 1, retry_in))
        if retry_in is not None:
            self._queue.retry_at(time.monotonic() + retry_in, job)
        elif attempt.status is Status.SUCCEEDED:
            self._judge_success(job, attempt)
        else:
            self._finish(job, attempt.status, reason=why_it_ended(attempt))

    def _retry_delay(self, job: PlannedJob, attempt: Attempt) -> float | None:
        if self._queue.closed or attempt.number > job.retries:
            return None
        if attempt.status.value not in job.retry.on:
            return None
        return job.retry.delay_before(attempt.number + 1, random.uniform(-1.0, 1.0))

    def _judge_success(self, job: PlannedJob, attempt: Attempt) -> None:
        metrics, note = read_metrics(job.output_dir, since=attempt.started_at)
        failures = failed_gates(job.gates, dict(metrics))
        if failures:
            # The note says why a gate's metric is missing (a file ignored, an entry skipped).
            reason = "; ".join([*failures, *([note] if note else [])])
            self._finish(job, Status.GATE_FAILED, metrics=metrics, reason=reason)
        else:
            self._finish(job, Status.SUCCEEDED, metrics=metrics, reason=note)

    # ----------------------------------------------------------------------- stopping
    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            self.sink.emit(
                Halted(f"{signal_name(signum)} again: killing running jobs", time.time())
            )
            self.backend.kill_all()
            return
        self._interrupted = signum
        self._halt(f"interrupted by {signal_name(signum)}", signal_name(signum))

    def _halt(self, why: str, signal: str | None = None) -> None:
        """Start nothing more; stop what runs (grace, then kill); skip what never started."""
        if self._queue.closed:
            return
        self._queue.closed = True
        self._stager.stop(wait=False)
        self._sweeps.stop_all()  # before skipping queued trials, so none is asked in their place
        self.sink.emit(Halted(why, time.time(), signal))
        while (job := self._queue.take_waiting()) is not None:
            self._finish(job, Status.SKIPPED, reason=f"not started: {why}")
        while (job := self._queue.take_retry()) is not None:
            last = self._attempts[job.id][-1]
            self._finish(job, last.status, reason=f"{why_it_ended(last)}; retry cancelled: {why}")
        self.backend.cancel_all()

    # ------------------------------------------------------------------------ sweeps
    def _start_sweep(self, job: PlannedJob) -> None:
        """A sweep job runs no process itself: its trials are queued as jobs of their own."""
        if not self._sweeps.available:
            self._finish(job, Status.FAILED, reason="sweeps are not available here")
            return
        driver = self._sweeps.open(job)
        trials = driver.begin()
        announcement = driver.announcement()
        if announcement is not None:
            self.sink.emit(announcement)
        self._queue_trials(job, trials)
        if driver.done:
            self._finish_sweep(job)

    def _queue_trials(self, parent: PlannedJob, trials: list[PlannedJob]) -> None:
        self._sweeps.adopt(parent, trials)
        for trial in trials:
            self._attempts[trial.id] = []
        self._queue.add_trials(trials)

    def _trial_finished(self, parent: PlannedJob, result: JobResult) -> None:
        driver = self._sweeps.driver(parent.id)
        self._queue_trials(parent, driver.tell(result))
        if driver.done:
            self._finish_sweep(parent)

    def _finish_sweep(self, job: PlannedJob) -> None:
        status, metrics, reason, info = self._sweeps.driver(job.id).outcome()
        failures = failed_gates(job.gates, dict(metrics)) if status.ok else []
        if failures:
            status, reason = Status.GATE_FAILED, "; ".join(failures)
        self._finish(job, status, metrics=metrics, reason=reason, sweep=info)

    def _finish(
        self,
        job: PlannedJob,
        status: Status,
        *,
        metrics: tuple[tuple[str, float], ...] = (),
        reason: str | None = None,
        from_run: str | None = None,
        sweep: dict[str, Any] | None = None,
    ) -> None:
        attempts = tuple(self._attempts[job.id])
        if attempts and not os.path.lexists(job.log_path):
            # The job (or something it ran) deleted its log: the record must say so, or
            # a reader hunts for a file that was never going to be there.
            gone = f"its log {job.log_path} was deleted during the run"
            reason = f"{reason}; {gone}" if reason else gone
        result = JobResult(job, status, attempts, metrics, reason, from_run, sweep)
        self._results[job.id] = result
        self._queue.finished(job.id)
        self.sink.emit(JobFinished(result))
        if (parent := self._sweeps.sweep_of(job.id)) is not None:
            self._trial_finished(parent, result)
        if status is Status.GATE_FAILED and not self.plan.enforce_gates:
            return  # reported, and otherwise a success: dependents run, nothing halts
        if not status.ok:
            self._skip_dependents(job.id, status)
        if self.plan.fail_fast and status in FAILING and not job.optional:
            self._halt(f"--fail-fast after '{job.id}' {status.value}")

    def _skip_dependents(self, job_id: str, status: Status) -> None:
        """Whatever needs a job that did not succeed cannot run: skip it, and its own."""
        for dependent in self._queue.dependents(job_id):
            if self._queue.remove(dependent):  # a deeper skip may have taken it already
                why = f"upstream '{job_id}' {status.value.replace('_', ' ')}"
                self._finish(dependent, Status.SKIPPED, reason=why)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
