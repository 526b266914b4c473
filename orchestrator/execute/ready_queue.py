"""Which job starts next: the jobs waiting, the retries waiting for their time, what runs.

A value with no processes and no clock of its own (the time is passed in), so the order
jobs start in can be tested as plain data. The plan already puts jobs in start order
(needs first, then priority, then longest expected: `plan.start_order`); the queue keeps
that order and adds what only a running run knows: free workers, cpus, memory and GPU
devices, which needs have finished, retries waiting out their backoff, and sweep trials
asked mid-run. A job that takes GPUs leaves it holding its own devices (`gpu_devices`,
and CUDA_VISIBLE_DEVICES in its env): a retry or a trial gets whichever are free then.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace

from orchestrator.models import PlannedJob
from orchestrator.resources import CUDA_VISIBLE_DEVICES


class ReadyQueue:
    def __init__(
        self,
        jobs: Sequence[PlannedJob],
        *,
        max_workers: int,
        cpus: int,
        memory: int | None = None,
        gpu_devices: tuple[str, ...] | None = None,
    ) -> None:
        self.max_workers = max_workers
        self.cpus = cpus
        #: Bytes the running jobs' `memory` shares; None: memory is not counted.
        self.memory = memory
        #: The GPU devices lent to running jobs, whole; None: GPUs are not counted.
        self.gpu_devices = gpu_devices
        self.running: dict[str, PlannedJob] = {}
        #: Set once the run halts: nothing starts after that.
        self.closed = False
        self._pending = list(jobs)
        self._retries: list[tuple[float, int, PlannedJob]] = []
        self._sequence = itertools.count()
        self._finished: set[str] = set()
        self._trials: set[str] = set()

    def __bool__(self) -> bool:
        """True while a job waits, runs, or waits for its retry."""
        return bool(self._pending or self.running or self._retries)

    # --------------------------------------------------------------------------- taking
    def next_ready(self, unless_it_needs: Collection[str] = ()) -> PlannedJob | None:
        """Take the first waiting job (in line order) whose cpus, memory and GPUs fit in
        what is free now; one that takes GPUs comes with its devices.

        Taking a smaller job past one that does not fit keeps cores busy; the big job
        still starts as soon as enough frees up, since it stays first in line.
        `unless_it_needs`: None if a job that needs one of these comes first, since that
        job would be first once their results are recorded.
        """
        if self.closed or len(self.running) >= self.max_workers:
            return None
        free = self.cpus - sum(job.cpus for job in self.running.values())
        # Once per call, not per waiting job: thousands may wait behind one that fits.
        free_memory = self._free_memory()
        free_devices = self._free_devices()
        for index, job in enumerate(self._pending):
            if any(need in unless_it_needs for need in job.needs):
                return None
            if (
                job.cpus <= free
                and (not job.memory or free_memory is None or job.memory <= free_memory)
                and (devices := _devices_for(job, free_devices)) is not None
                and all(need in self._finished for need in job.needs)
            ):
                del self._pending[index]  # a failed need skips us: see `dependents`
                # A sweep starts no process: its trials get devices as they start.
                counted = free_devices is not None and job.sweep is None
                return _holding(job, devices) if counted else job
        return None

    def _free_memory(self) -> int | None:
        if self.memory is None:
            return None
        return self.memory - sum(running.memory or 0 for running in self.running.values())

    def _free_devices(self) -> list[str] | None:
        """The devices no running job holds, lowest first (so a run's devices are the same
        from run to run); None when GPUs are not counted."""
        if self.gpu_devices is None:
            return None
        held = {device for running in self.running.values() for device in running.gpu_devices}
        return [device for device in self.gpu_devices if device not in held]

    def started(self, job: PlannedJob) -> None:
        self.running[job.id] = job

    def ended(self, job_id: str) -> PlannedJob:
        return self.running.pop(job_id)

    def finished(self, job_id: str) -> None:
        """The job has its result: what needs it may start."""
        self._finished.add(job_id)

    def waiting(self) -> Iterator[PlannedJob]:
        """The jobs waiting to start, in line order (not retries)."""
        return iter(self._pending)

    # -------------------------------------------------------------------------- retries
    def retry_at(self, due: float, job: PlannedJob) -> None:
        heapq.heappush(self._retries, (due, next(self._sequence), job))

    def release_due_retries(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, _, job = heapq.heappop(self._retries)
            self._pending.insert(0, job)  # a retry goes before jobs not yet started

    def retry_due(self, now: float) -> bool:
        return bool(self._retries) and self._retries[0][0] <= now

    def seconds_to_next_retry(self, now: float) -> float | None:
        return self._retries[0][0] - now if self._retries else None

    # ----------------------------------------------------------------- trials, skipping
    def add_trials(self, trials: Iterable[PlannedJob]) -> None:
        """Queue a sweep's new trials after those already queued, before other jobs.

        The trials queued earlier were asked earlier, so they go first; a sweep under
        way finishes before new work begins.
        """
        trials = list(trials)
        position = 0
        while position < len(self._pending) and self._pending[position].id in self._trials:
            position += 1
        self._pending[position:position] = trials
        self._trials.update(trial.id for trial in trials)

    def dependents(self, job_id: str) -> list[PlannedJob]:
        """The waiting jobs that need this one, still in line."""
        return [job for job in self._pending if job_id in job.needs]

    def remove(self, job: PlannedJob) -> bool:
        """Take the job out of line; False if it was no longer there."""
        if job not in self._pending:
            return False
        self._pending.remove(job)
        return True

    def take_waiting(self) -> PlannedJob | None:
        """The first job in line, taken out: a halt skips them one by one."""
        return self._pending.pop(0) if self._pending else None

    def take_retry(self) -> PlannedJob | None:
        """The next retry waiting for its time, taken out: a halt cancels them."""
        return heapq.heappop(self._retries)[2] if self._retries else None


def _devices_for(job: PlannedJob, free: list[str] | None) -> tuple[str, ...] | None:
    """The devices the job would get now (none if it asks for none); None if too few."""
    if free is None or job.gpus <= 0 or job.sweep is not None:
        return ()
    wanted = int(job.gpus)  # the plan refused fractions of a device here
    return tuple(free[:wanted]) if len(free) >= wanted else None


def _holding(job: PlannedJob, devices: tuple[str, ...]) -> PlannedJob:
    """The job as it starts on `devices`: the only ones its processes see.

    A job asking for none sees none (CUDA_VISIBLE_DEVICES=""), or it could take memory
    on a device another job holds; its own `env:` setting still wins. Set here at the
    start, not in the plan, so the job's fingerprint does not change with whether a GPU
    job happens to be in the same run (which would re-run a cached job).
    """
    env = dict(job.env)
    if devices:
        env[CUDA_VISIBLE_DEVICES] = ",".join(devices)
    elif CUDA_VISIBLE_DEVICES in env:
        return job
    else:
        env[CUDA_VISIBLE_DEVICES] = ""
    return replace(job, env=tuple(env.items()), gpu_devices=devices)
