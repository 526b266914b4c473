"""Writing a summary: the JSON text every writer of one produces."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.run_summary.records import (
    SCHEMA_VERSION,
    AttemptRecord,
    JobRecord,
    RunSummary,
    encode_metric,
)


def dump(summary: RunSummary) -> str:
    return dump_document(to_document(summary))


def dump_document(document: Mapping[str, Any]) -> str:
    """A summary document (`to_document`'s, or the one a run builds) as JSON text, with
    non-finite metrics as their strings: valid JSON that any parser reads (Python's `json`
    would write a bare `NaN`, which most reject).

    Metrics are what a job makes non-finite. Should any other field be (an option, a
    sweep's figure), it is written as Python writes it rather than refused: the end of a
    run is no time to lose its summary.
    """
    jobs = [
        {**job, "metrics": {name: encode_metric(v) for name, v in job["metrics"].items()}}
        for job in document["jobs"]
    ]
    return json.dumps({**document, "jobs": jobs}, indent=2) + "\n"


def to_document(summary: RunSummary) -> dict[str, Any]:
    """The summary as the dict a run builds in memory (metrics as floats, NaN included),
    for the reports that still render from dicts."""
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": summary.started_at,
        "ended_at": summary.ended_at,
        "duration_s": summary.duration_s,
        "exit_code": summary.exit_code,
        "interrupted_by": summary.interrupted_by,
        "host": summary.host,
        "python": summary.python,
        "orchestrator_version": summary.orchestrator_version,
        "git_commit": summary.git_commit,
        "options": dict(summary.options),
        "backend": dict(summary.backend),
        "counts": dict(summary.counts),
        "jobs": [job_document(job) for job in summary.jobs],
    }


def job_document(job: JobRecord) -> dict[str, Any]:
    document = {
        "id": job.id,
        "script": job.script,
        "argv": list(job.argv),
        "status": job.status.value,
        "reason": job.reason,
        "optional": job.optional,
        "tags": list(job.tags),
        "attempts": [_attempt_document(a) for a in job.attempts],
        "duration_s": job.duration_s,
        "log_path": job.log_path,
        "output_dir": job.output_dir,
        "metrics": dict(job.metrics),
        "gates": list(job.gates),
        "headline": job.headline,
        "needs": list(job.needs),
        "from_run": job.from_run,
        "sweep": None if job.sweep is None else dict(job.sweep),
    }
    if job.shard is not None:
        document["shard"] = job.shard
    return document


def _attempt_document(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "status": attempt.status.value,
        "started_at": attempt.started_at,
        "duration_s": attempt.duration_s,
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
        "node": attempt.node,
        "error": attempt.error,
    }
