"""The run summary as a typed value: the one place that reads and writes its JSON.

A summary is read back long after it was written: by another version of the orchestrator,
from a CI artifact, a shard or a hand-edited file. So every field is checked on the way
in, one line names the file and the field when one is wrong, and fields added since
schema 1 have defaults, so older summaries load. This module also owns the names of the
output layout (`summaries/`, `latest.json`), so no reader spells them twice.

JSON has no NaN or infinity: a metric that became one is written as the string `"NaN"`,
`"Infinity"` or `"-Infinity"` (schema 2) and read back as the float it stands for.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status

SUMMARY_DIR = "summaries"
LATEST = "latest.json"
SUMMARY_PREFIX = "training_summary_"
#: 2: a metric may be the string "NaN", "Infinity" or "-Infinity". A reader of 1 would
#: take those for numbers, so it must refuse such a file rather than misread it.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: A non-finite metric's spelling in the JSON: the tokens JavaScript and Python's `json`
#: print for these values, as strings, since JSON itself has no way to say them.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    number: int
    status: Status
    started_at: str
    duration_s: float
    exit_code: int | None = None
    signal: int | None = None
    node: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    status: Status
    script: str = ""
    argv: tuple[str, ...] = ()
    reason: str | None = None
    optional: bool = False
    tags: tuple[str, ...] = ()
    attempts: tuple[AttemptRecord, ...] = ()
    duration_s: float = 0.0
    log_path: str = ""
    output_dir: str = ""
    #: Floats, NaN and the infinities included.
    metrics: Mapping[str, float] = field(default_factory=dict)
    gates: tuple[str, ...] = ()
    headline: str | None = None
    needs: tuple[str, ...] = ()
    from_run: str | None = None
    sweep: Mapping[str, Any] | None = None
    #: The CI shard (`K/N`) that ran it, in a merged run.
    shard: str | None = None

    @property
    def is_trial(self) -> bool:
        return is_trial(self.tags)


@dataclass(frozen=True, slots=True)
class RunSummary:
    started_at: str
    ended_at: str
    exit_code: int
    jobs: tuple[JobRecord, ...]
    duration_s: float = 0.0
    interrupted_by: str | None = None
    host: str | None = None
    python: str | None = None
    orchestrator_version: str | None = None
    git_commit: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    backend: Mapping[str, Any] = field(default_factory=lambda: {"name": "local"})
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def started(self) -> float:
        """The start as a POSIX timestamp (checked to parse when loaded)."""
        return parse_iso(self.started_at)


def is_trial(tags: Sequence[str]) -> bool:
    """A sweep trial: reports fold it into its sweep's row (twelve trial rows bury the news)."""
    return any(tag.startswith("sweep:") for tag in tags)


# ------------------------------------------------------------------------------ layout
def summary_name(run_id: str) -> str:
    return f"{SUMMARY_PREFIX}{run_id}.json"


def summary_files(path: Path) -> list[Path]:
    """The summaries `path` stands for: itself, or a directory's `training_summary_*.json`
    files (its `latest.json` is a copy of the newest, so it counts only where none is)."""
    if not path.exists():
        raise OrchestratorError(f"{path}: no such file or directory")
    if not path.is_dir():
        return [path]
    stamped = sorted(path.glob(summary_name("*")))
    if stamped:
        return stamped
    if (path / LATEST).is_file():
        return [path / LATEST]
    raise OrchestratorError(f"{path}: no run summaries ({summary_name('*')}) in this directory")


# ----------------------------------------------------------------------------- reading
def load(path: Path) -> RunSummary:
    """The summary at `path`; any problem is an `OrchestratorError` of one line that
    starts with the path."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise OrchestratorError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise OrchestratorError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise OrchestratorError(
            f"{path}: invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:  # an integer past int()'s digit limit, say
        raise OrchestratorError(f"{path}: unreadable JSON: {error}") from None
    except RecursionError:
        raise OrchestratorError(f"{path}: invalid JSON: nested too deep") from None
    return from_document(data, str(path))


def from_document(data: object, source: str) -> RunSummary:
    """A summary from parsed JSON (or a summary dict built in memory); `source` names it
    in errors."""
    try:
        return _run(data)
    except _Invalid as invalid:
        raise OrchestratorError(f"{source}: {invalid}") from None


class _Invalid(Exception):
    """What is wrong, as `key.path: problem`; the caller prefixes the file."""


def _run(data: object) -> RunSummary:
    if not isinstance(data, dict):
        raise _Invalid(f"not a run summary: expected a JSON object, got {_kind(data)}")
    if "schema_version" not in data:
        raise _Invalid(f"not a run summary: no schema_version{_guess(data)}")
    version = data["schema_version"]
    if not _is_int(version) or version not in READABLE_VERSIONS:
        newer = _is_int(version) and version > max(READABLE_VERSIONS)
        raise _Invalid(
            f"schema_version {version!r}: "
            + ("written by a newer orchestrator; upgrade to read it" if newer else "unknown")
            + f" (this one reads {', '.join(map(str, READABLE_VERSIONS))})"
        )
    take = _Taker(data, "")
    started_at = take("started_at", _is_utc, "a UTC time like 2026-11-25T22:41:07Z")
    jobs = take("jobs", _is_list, "a list")
    return RunSummary(
        started_at=started_at,
        ended_at=take("ended_at", _is_utc, "a UTC time", started_at),
        duration_s=take("duration_s", _is_number, "a number", 0.0),
        exit_code=take("exit_code", _is_int, "an integer"),
        interrupted_by=take("interrupted_by", _is_opt_str, "a string or null", None),
        host=take("host", _is_opt_str, "a string or null", None),
        python=take("python", _is_opt_str, "a string or null", None),
        orchestrator_version=take("orchestrator_version", _is_opt_str, "a string", None),
        git_commit=take("git_commit", _is_opt_str, "a string or null", None),
        options=take("options", _is_object, "an object", {}),
        backend=take("backend", _is_object, "an object", {"name": "local"}),
        counts=take("counts", _is_counts, "an object of integers", {}),
        jobs=tuple(_job(job, f"jobs[{index}]") for index, job in enumerate(jobs)),
    )


def _guess(data: Mapping[str, Any]) -> str:
    """What the object more likely is, for the files people pass by mistake."""
    if "edges" in data and "jobs" in data:
        return " (this is a --dry-run plan, not a run's summary)"
    if "include" in data:
        return " (this is a shard matrix, not a run's summary)"
    return ""


def _job(data: object, where: str) -> JobRecord:
    """Its id, status and metrics (what it is and what it produced) must be there; every
    summary ever written has them. The rest only describes it, and has defaults."""
    if not isinstance(data, dict):
        raise _Invalid(f"{where}: expected an object, got {_kind(data)}")
    take = _Taker(data, where + ".")
    job_id = take("id", _is_id, "a non-empty string")
    where = f"{where} ({job_id!r})"
    take = _Taker(data, where + ".")
    attempts = take("attempts", _is_list, "a list", [])
    metrics = take("metrics", _is_object, "an object")
    return JobRecord(
        id=job_id,
        status=_status(take("status", _is_str, "a string"), f"{where}.status"),
        script=take("script", _is_str, "a string", ""),
        argv=tuple(take("argv", _is_str_list, "a list of strings", [])),
        reason=take("reason", _is_opt_str, "a string or null", None),
        optional=take("optional", _is_bool, "true or false", False),
        tags=tuple(take("tags", _is_str_list, "a list of strings", [])),
        attempts=tuple(_attempt(a, f"{where}.attempts[{n}]") for n, a in enumerate(attempts)),
        duration_s=take("duration_s", _is_number, "a number", 0.0),
        log_path=take("log_path", _is_str, "a string", ""),
        output_dir=take("output_dir", _is_str, "a string", ""),
        metrics={name: _metric(v, f"{where}.metrics.{name}") for name, v in metrics.items()},
        gates=tuple(take("gates", _is_str_list, "a list of strings", [])),
        headline=take("headline", _is_opt_str, "a string or null", None),
        needs=tuple(take("needs", _is_str_list, "a list of strings", [])),
        from_run=take("from_run", _is_opt_str, "a string or null", None),
        sweep=take("sweep", _is_opt_object, "an object or null", None),
        shard=take("shard", _is_opt_str, "a string", None),
    )


def _attempt(data: object, where: str) -> AttemptRecord:
    if not isinstance(data, dict):
        raise _Invalid(f"{where}: expected an object, got {_kind(data)}")
    take = _Taker(data, where + ".")
    return AttemptRecord(
        number=take("number", _is_int, "an integer"),
        status=_status(take("status", _is_str, "a string"), f"{where}.status"),
        started_at=take("started_at", _is_utc, "a UTC time like 2026-11-25T22:41:07Z"),
        duration_s=take("duration_s", _is_number, "a number"),
        exit_code=take("exit_code", _is_opt_int, "an integer or null", None),
        signal=take("signal", _is_opt_int, "an integer or null", None),
        node=take("node", _is_opt_str, "a string or null", None),
        error=take("error", _is_opt_str, "a string or null", None),
    )


def _status(text: str, where: str) -> Status:
    status = _STATUSES.get(text)
    if status is None:
        known = ", ".join(_STATUSES)
        raise _Invalid(f"{where}: unknown status {text!r} (known: {known})")
    return status


#: A dict lookup, not `Status(text)`: the enum's own lookup is most of a load's time.
_STATUSES = {status.value: status for status in Status}


def _metric(value: object, where: str) -> float:
    number = decode_metric(value)
    if number is None:
        raise _Invalid(
            f"{where}: expected a number or one of {', '.join(map(repr, NON_FINITE))}, "
            f"got {_kind(value)}"
        )
    return number


def decode_metric(value: object) -> float | None:
    """A metric as stored (a number, or a non-finite one's string) as a float; None if it
    is neither."""
    if isinstance(value, str):
        return NON_FINITE.get(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


_MISSING: Any = object()


class _Taker:
    """Takes a key of one object, checked, with its path in the message when wrong."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def __call__(
        self, key: str, check: Callable[[Any], bool], expected: str, default: Any = _MISSING
    ) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise _Invalid(f"{self.where}{key}: missing")
            return default
        if not check(value):
            raise _Invalid(f"{self.where}{key}: expected {expected}, got {_kind(value)}")
        return value


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_opt_int(value: object) -> bool:
    return value is None or _is_int(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_list(value: object) -> bool:
    return isinstance(value, list)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_opt_object(value: object) -> bool:
    return value is None or isinstance(value, dict)


def _is_counts(value: object) -> bool:
    return isinstance(value, dict) and all(_is_int(n) for n in value.values())


def _is_utc(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_iso(value)
    except ValueError:
        return False
    return True


def _kind(value: object) -> str:
    """A JSON value's type, as the reader of the error message knows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return "a list" if isinstance(value, list) else "an object"


def parse_iso(text: str) -> float:
    """`2026-11-25T22:41:07.123Z` as a POSIX timestamp."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # a time without a zone would be read as the machine's
        raise ValueError(f"no time zone in {text!r}")
    return moment.timestamp()


# ----------------------------------------------------------------------------- writing
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


def encode_metric(value: float) -> float | str:
    """A metric as JSON can hold it: itself, or a non-finite one's string."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
