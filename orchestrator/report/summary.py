"""The JSON summary a run leaves behind, written atomically so no reader sees half of it."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.models import Attempt, JobResult, RunOptions
from orchestrator.outcome import status_counts

SCHEMA_VERSION = 1
LATEST = "latest.json"


@dataclasses.dataclass(frozen=True, slots=True)
class RunInfo:
    started_at: float
    ended_at: float
    exit_code: int
    interrupted_by: str | None = None


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)) if timestamp else ""


def build_summary(
    results: Sequence[JobResult], options: RunOptions, run: RunInfo, base: Path
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration_s": round(run.ended_at - run.started_at, 3),
        "exit_code": run.exit_code,
        "interrupted_by": run.interrupted_by,
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "orchestrator_version": __version__,
        "git_commit": git_commit(base),
        "options": dataclasses.asdict(options),
        "counts": status_counts(results),
        "jobs": [_job(r) for r in results],
    }


def _job(result: JobResult) -> dict[str, Any]:
    job = result.job
    return {
        "id": job.id,
        "script": job.source,
        "argv": list(job.argv),
        "status": result.status.value,
        "reason": result.reason,
        "optional": job.optional,
        "tags": list(job.tags),
        "attempts": [_attempt(a) for a in result.attempts],
        "duration_s": round(sum(a.duration for a in result.attempts), 3),
        "log_path": job.log_path,
        "output_dir": job.output_dir,
        "metrics": dict(result.metrics),
    }


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "status": attempt.status.value,
        "started_at": iso(attempt.started_at),
        "duration_s": round(attempt.duration, 3),
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
    }


def write_summary(summary: Mapping[str, Any], summary_dir: Path, started_at: float) -> Path:
    """`training_summary_<UTC>.json` plus `latest.json`, each replaced atomically."""
    summary_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    path = summary_dir / f"training_summary_{stamp}.json"
    suffix = 1
    while path.exists():  # two runs in one second must not overwrite each other
        suffix += 1
        path = summary_dir / f"training_summary_{stamp}_{suffix}.json"
    text = json.dumps(summary, indent=2) + "\n"
    write_atomic(path, text)
    write_atomic(summary_dir / LATEST, text)
    return path


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git_commit(base: Path) -> str | None:
    """The checked-out commit, read from `.git` directly: no `git` binary, no subprocess."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    git_dir = base / ".git"
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[len("ref: ") :]
        ref_file = git_dir / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        for line in (git_dir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
