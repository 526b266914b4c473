"""Writing a summary: the JSON text every writer of one produces."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.run_summary.records import (
    SCHEMA_VERSION,
    AttemptRecord,
    JobRecord,
    RunSummary,
    encode_metric,
)
from orchestrator.usage import Usage

_ENCODER = json.JSONEncoder(separators=(", ", ": "))


def dump(summary: RunSummary) -> str:
    """The summary as JSON text, with non-finite metrics as their strings: valid JSON that
    any parser reads (Python's `json` would write a bare `NaN`, which most reject).

    Metrics are what a job makes non-finite. Should any other field be (an option, a
    sweep's figure), it is written as Python writes it rather than refused: the end of a
    run is no time to lose its summary.

    One field per line, and each job on a line of its own: as easy to read and to grep as
    an indented document, and written by `json`'s C encoder, which `indent` turns off (the
    pure-Python one it falls back to was the largest per-job cost of a whole run).
    """
    document = {
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
    }
    if summary.tracking is not None:
        document["tracking"] = dict(summary.tracking)
    if summary.notifications:
        document["notifications"] = [dict(item) for item in summary.notifications]
    fields = [
        f"  {_ENCODER.encode(key)}: {_ENCODER.encode(value)}" for key, value in document.items()
    ]
    jobs = [
        f"    {_ENCODER.encode(_with_encoded_metrics(job_document(job)))}" for job in summary.jobs
    ]
    listed = "[\n" + ",\n".join(jobs) + "\n  ]" if jobs else "[]"
    return "{\n" + ",\n".join([*fields, f'  "jobs": {listed}']) + "\n}\n"


def _with_encoded_metrics(document: dict[str, Any]) -> dict[str, Any]:
    metrics = document["metrics"]
    return {**document, "metrics": {name: encode_metric(v) for name, v in metrics.items()}}


def job_document(job: JobRecord) -> dict[str, Any]:
    """A job as its summary's JSON holds it, metrics still floats (NaN included): the
    journal writes it with Python's `json`, which reads such a NaN back."""
    document = {
        "id": job.id,
        "script": job.script,
        "argv": list(job.argv),
        "status": job.status.value,
        "reason": job.reason,
        "optional": job.optional,
        "tags": list(job.tags),
        "attempts": [attempt_document(a) for a in job.attempts],
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
    if job.promotion is not None:
        document["promotion"] = dict(job.promotion)
    return document


def attempt_document(attempt: AttemptRecord) -> dict[str, Any]:
    """An attempt as its summary's JSON (and the journal's attempt_ended line) holds it."""
    return {
        "number": attempt.number,
        "status": attempt.status.value,
        "started_at": attempt.started_at,
        "duration_s": attempt.duration_s,
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
        "node": attempt.node,
        "error": attempt.error,
        **({"usage": usage_document(attempt.usage)} if attempt.usage is not None else {}),
        **({"gpu_devices": list(attempt.gpu_devices)} if attempt.gpu_devices else {}),
    }


def usage_document(usage: Usage) -> dict[str, Any]:
    """What an attempt used, as the summary holds it: every field, by its name."""
    return {name: getattr(usage, name) for name in Usage.__dataclass_fields__}
