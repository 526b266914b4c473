"""An append-only record of the run, one JSON line per event, flushed as it happens.

A run killed with SIGKILL writes no summary, but every line it flushed is in the kernel's
page cache and survives the process, so `summarize --from-journal` can rebuild a true
summary of what ran. No fsync: it would only matter if the machine itself crashed, and it
costs a disk round trip per event (measured in bench/).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from orchestrator.events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    Halted,
    JobFinished,
    RunFinished,
    RunStarted,
    SweepStarted,
    UsageRead,
)
from orchestrator.execute.procfs import boot_id, start_time
from orchestrator.models import Status
from orchestrator.outcome import exit_code_for
from orchestrator.report.summary import RunInfo, assemble, attempt_record, job_record
from orchestrator.run_summary import (
    JobRecord,
    RunSummary,
    attempt_document,
    attempt_from_document,
    job_document,
    job_from_document,
    journal_name,
    read_text,
)
from orchestrator.secrets import redact

JOURNAL_VERSION = 1
#: One encoder for the run: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


#: Keys of run_started that are not the run's header (the summary's).
NOT_HEADER = frozenset({"event", "at", "version", "boot_id"})


class Journal:
    def __init__(
        self,
        path: Path,
        header: Mapping[str, Any],
        pid_of: Callable[[str], int | None] | None = None,
    ) -> None:
        """`pid_of`: a job's latest attempt's pid (also its group's id), which its
        attempt_started record keeps with the pid's start time, for `--resume` to find
        an attempt that outlived this run (see `open_attempts`)."""
        self.path = path
        self.header = header
        self.pid_of = pid_of
        path.parent.mkdir(parents=True, exist_ok=True)
        # a+: what was written can be read back if a job deletes the file (see close).
        self._file: IO[str] = path.open("a+", encoding="utf-8")
        self._broken = False

    @property
    def stopped(self) -> bool:
        """Whether a write failed (a full disk), so the file lacks the run's later events."""
        return self._broken

    def emit(self, event: Event) -> None:
        if self._broken or isinstance(event, UsageRead):  # the live view's; the end has it
            return
        try:
            records = _records(event, self.header)
            lines = [_ENCODER.encode(self._with_process(record)) for record in records]
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk must not stop the jobs; say so once
            self._broken = True
            print(f"warning: journal {self.path} stopped: {exc.strerror}", file=sys.stderr)

    def _with_process(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.pid_of is None:
            return record
        if record["event"] == "run_started":
            return {**record, "boot_id": boot_id()}
        if record["event"] != "attempt_started":
            return record
        pid = self.pid_of(record["job"])
        if pid is not None:
            record.update(pid=pid, pgid=pid, starttime=start_time(pid))
        return record

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the disk may be full: nothing left to save
            self._restore_if_removed()
            self._file.close()

    def _restore_if_removed(self) -> None:
        """A job that deleted summaries/ (or the journal) took only the name: the open
        file still holds every line, so write it back and say so."""
        if self._broken or os.fstat(self._file.fileno()).st_nlink:
            return
        if self.path.parent.is_symlink():  # put there by the job: it leads out of the root
            print(
                f"warning: journal {self.path} was deleted during the run; not written back: "
                f"{self.path.parent} is a symlink now",
                file=sys.stderr,
            )
            return
        self._file.seek(0)
        lines = self._file.read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("x", encoding="utf-8") as restored:
            restored.write(lines)
        print(
            f"warning: journal {self.path} was deleted during the run; written back whole",
            file=sys.stderr,
        )


def _records(event: Event, header: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(event, RunStarted):
        yield {"event": "run_started", "at": event.at, "version": JOURNAL_VERSION, **header}
        for job in event.plan.jobs:
            yield {
                "event": "job_queued",
                "at": event.at,
                "job": job.id,
                "argv": [redact(arg, job.secrets) for arg in job.argv],
                "source": job.source,
                "optional": job.optional,
                "tags": list(job.tags),
                "log_path": job.log_path,
                "output_dir": job.output_dir,
                "cpus": job.cpus,
                "gates": [str(g) for g in job.gates],
                "headline": job.headline,
                "needs": [*job.needs, *job.needs_outside],
            }
    elif isinstance(event, AttemptStarted):
        yield {
            "event": "attempt_started",
            "at": event.at,
            "job": event.job.id,
            "attempt": event.number,
            "of": event.of,
        }
    elif isinstance(event, AttemptEnded):
        yield {
            "event": "attempt_ended",
            "at": event.attempt.started_at + event.attempt.duration,  # when it ended
            "job": event.job.id,
            "attempt": attempt_document(attempt_record(event.attempt)),
            "retry_in": event.retry_in,
        }
    elif isinstance(event, JobFinished):
        yield {
            "event": "job_finished",
            "at": time.time(),
            "job": event.result.job.id,
            "result": job_document(job_record(event.result)),
        }
    elif isinstance(event, Halted):
        yield {"event": "halted", "at": event.at, "why": event.why, "signal": event.signal}
    elif isinstance(event, SweepStarted):
        yield {
            "event": "sweep_started",
            "at": event.at,
            "job": event.job.id,
            "study": event.study,
            "new_because": event.new_because,
            "earlier": event.earlier,
            "done": event.done,
            "left": event.left,
        }
    elif isinstance(event, RunFinished):
        yield {
            "event": "run_finished",
            "at": event.at,
            "exit_code": event.exit_code,
            "summary": event.summary_path,
        }


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The records, skipping a last line cut short by a crash mid-write."""
    records = []
    for line in read_text(path, errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def rebuild_summary(records: list[dict[str, Any]], source: str) -> RunSummary:
    """A summary from a journal, even one whose run died before writing its own; `source`
    names the journal in errors.

    A job with an attempt that never ended was running when the orchestrator died: it is
    `cancelled`. A queued job that never started is `skipped`.
    """
    started = next(r for r in records if r["event"] == "run_started")
    header = {k: v for k, v in started.items() if k not in NOT_HEADER}
    jobs: dict[str, JobRecord] = {}
    open_attempts: dict[str, int] = {}
    for record in records:
        kind, job_id = record["event"], str(record.get("job"))
        if kind == "job_queued":
            jobs[job_id] = _queued_job(record)
        elif kind == "attempt_started" and job_id in jobs:
            open_attempts[job_id] = record["attempt"]
        elif kind == "attempt_ended" and job_id in jobs:  # sweep trials come whole, below
            open_attempts.pop(job_id, None)
            where = f"attempt_ended of {job_id!r}"
            attempt = attempt_from_document(record["attempt"], source, where)
            jobs[job_id] = replace(jobs[job_id], attempts=(*jobs[job_id].attempts, attempt))
        elif kind == "job_finished":
            jobs[job_id] = job_from_document(record["result"], source, "job_finished")
    for job_id, number in open_attempts.items():
        if jobs[job_id].status is Status.SKIPPED:
            jobs[job_id] = replace(
                jobs[job_id],
                status=Status.CANCELLED,
                reason=f"orchestrator stopped during attempt {number}",
            )
    finished = next((r for r in records if r["event"] == "run_finished"), None)
    options = header.get("options", {})
    code = (
        finished["exit_code"]
        if finished
        else exit_code_for(
            [(job.status, job.optional) for job in jobs.values()],
            allow_partial_success=options.get("allow_partial_success", False),
        )
    )
    halted = next((r["signal"] for r in records if r["event"] == "halted" and r["signal"]), None)
    run = RunInfo(started["at"], records[-1]["at"], code, halted)
    return assemble(header, list(jobs.values()), run)


def open_attempts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempt_started records of attempts that never ended, with the boot they ran in.

    A run that died (SIGKILL, a crash) leaves these; the process may still be running if
    the watchdog could not stop it. Journals older than the pid fields give none.
    """
    started = next((r for r in records if r["event"] == "run_started"), {})
    open_: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["event"] == "attempt_started" and "pid" in record:
            open_[str(record["job"])] = {**record, "boot_id": started.get("boot_id")}
        elif record["event"] == "attempt_ended":
            open_.pop(str(record.get("job")), None)
    return list(open_.values())


def _queued_job(record: Mapping[str, Any]) -> JobRecord:
    return JobRecord(
        id=record["job"],
        script=record["source"],
        argv=tuple(record["argv"]),
        status=Status.SKIPPED,
        reason="never started",
        optional=record["optional"],
        tags=tuple(record["tags"]),
        log_path=record["log_path"],
        output_dir=record["output_dir"],
        gates=tuple(record["gates"]),
        headline=record["headline"],
        needs=tuple(record["needs"]),
    )


def journal_path(summary_dir: Path, run_id: str) -> Path:
    return summary_dir / journal_name(run_id)
