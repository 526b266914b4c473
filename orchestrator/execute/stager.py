"""Making a job's output dir and log before it starts, ahead of time where a core is free.

This is the "Staging" of README's "Where a job's time goes": making them is a few system
calls per job, a good part of what the orchestrator itself spends on one. In a thread of
its own (the system calls release the GIL) that time runs on a core the children leave
free, instead of between one job's end and the next one's start. With no core to spare (a
local job on every core) the thread would compete with the jobs and its GIL hand-offs
cost more than the files it makes: then there is no thread and each job's files are made
when it starts (bench/job_overhead.py runs both ways: one worker, and two on two cores).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from orchestrator.execute.beneath import (
    SymlinkInTheWay,
    make_dirs_beneath,
    open_beneath,
    symlink_reason,
)
from orchestrator.models import PlannedJob

#: How many jobs in line (at least) have their dirs and logs made ahead of their start.
STAGE_AHEAD = 8


class Stager:
    def __init__(self, output_root: str, *, ahead: bool, max_workers: int) -> None:
        """`ahead`: a core is free for the thread that makes the next jobs' files."""
        self.output_root = output_root
        self._how_far = max(STAGE_AHEAD, 2 * max_workers)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="stage") if ahead else None
        self._staged: set[str] = set()
        self._handed_over: set[str] = set()

    def stage(self, job: PlannedJob) -> str | None:
        """Create the job's output dir and log file once; say why not if they cannot be.

        An existing log is left as it is: the first attempt empties it when it starts, so
        a job that never starts keeps its previous run's log. The thread runs this ahead
        of the loop; both may run it for one job, which is harmless. No symlink below the
        output root is followed: a job's last run may have left one.
        """
        if job.id in self._staged:
            return None
        root = self.output_root
        try:
            make_dirs_beneath(root, job.output_dir)
        except SymlinkInTheWay as exc:
            return symlink_reason("output dir", job.output_dir, exc)
        except OSError as exc:
            return f"cannot create {job.output_dir}: {exc.strerror or exc}"
        try:
            os.close(open_beneath(root, job.log_path, os.O_WRONLY | os.O_CREAT))
        except SymlinkInTheWay as exc:
            return symlink_reason("log", job.log_path, exc)
        except OSError as exc:
            return f"cannot create {job.log_path}: {exc.strerror or exc}"
        self._staged.add(job.id)
        return None

    def stage_ahead(self, in_line: Iterable[PlannedJob]) -> None:
        """Have the thread make the files of the next jobs in line (not sweeps: no files).

        Only a few jobs ahead, so a run that stops early leaves no files for the jobs it
        never reached. A failure is reported when the job starts, by `stage`.
        """
        if self._thread is None:
            return
        jobs = (job for job in in_line if job.sweep is None)
        for job in itertools.islice(jobs, self._how_far):
            if job.id not in self._handed_over:
                self._handed_over.add(job.id)
                self._thread.submit(self.stage, job)

    def stop(self, *, wait: bool = True) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=wait, cancel_futures=True)
