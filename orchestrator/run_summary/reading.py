"""Reading a summary back: every field checked, older schema versions understood.

A summary is read back long after it was written: by another version of the orchestrator,
from a CI artifact, a shard or a hand-edited file. So every field is checked on the way
in, one line names the file and the field when one is wrong, and fields added since
schema 1 have defaults, so older summaries load.
"""

from __future__ import annotations

import errno
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.run_summary.records import (
    NON_FINITE,
    READABLE_VERSIONS,
    AttemptRecord,
    JobRecord,
    RunSummary,
    decode_metric,
    parse_iso,
)
from orchestrator.usage import METHODS, Usage

#: The most read back from a summary or journal, far past one of thousands of jobs: a
#: path typed by mistake (/dev/zero, a multi-gigabyte log) is refused once this much has
#: been read, instead of being read until memory runs out. A pipe (`show <(curl …)`) is
#: read like any file.
MAX_READ_BYTES = 256 << 20


def read_text(path: Path, limit: int = MAX_READ_BYTES, errors: str = "strict") -> str:
    """The file's UTF-8 text, read no further than `limit` bytes; `OSError` (EFBIG) past
    that."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit >> 20} MiB: not a summary or journal")
    return data.decode("utf-8", errors)


def load(path: Path) -> RunSummary:
    """The summary at `path`; any problem is an `OrchestratorError` of one line that
    starts with the path."""
    try:
        data = json.loads(read_text(path))
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


def succeeded_durations(path: Path) -> dict[str, float]:
    """How long each job took in the summary at `path`, for those that succeeded; {} when
    the file gives none (no file yet, or not one to use).

    Unlike `load`, only the jobs' ids, statuses and durations are read: a durations file
    trimmed to them (kept across CI runs, say) serves as well as a whole summary, and a
    plan never fails for want of history.
    """
    try:
        data = json.loads(read_text(path))
        return {
            job["id"]: float(job["duration_s"])
            for job in data["jobs"]
            if job.get("status") == Status.SUCCEEDED.value
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def from_document(data: object, source: str) -> RunSummary:
    """A summary from parsed JSON (or a summary dict built in memory); `source` names it
    in errors."""
    try:
        return _run(data)
    except _Invalid as invalid:
        raise OrchestratorError(f"{source}: {invalid}") from None


def job_from_document(data: object, source: str, where: str) -> JobRecord:
    """One job's record from parsed JSON (a journal's, say), checked as `load` checks it."""
    try:
        return _job(data, where)
    except _Invalid as invalid:
        raise OrchestratorError(f"{source}: {invalid}") from None


def attempt_from_document(data: object, source: str, where: str) -> AttemptRecord:
    """One attempt's record from parsed JSON, checked as `load` checks it."""
    try:
        return _attempt(data, where)
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
        tracking=take("tracking", _is_opt_object, "an object or null", None),
        notifications=tuple(take("notifications", _is_objects, "a list of objects", [])),
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
        promotion=take("promotion", _is_opt_object, "an object or null", None),
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
        usage=_usage(take("usage", _is_opt_object, "an object or null", None), f"{where}.usage"),
        gpu_devices=tuple(take("gpu_devices", _is_str_list, "a list of strings", [])),
    )


def _usage(data: dict[str, Any] | None, where: str) -> Usage | None:
    """What an attempt used; every figure may be null (not measured), none may be missing
    in a summary that has the object at all but the ones added since."""
    if data is None:
        return None
    take = _Taker(data, where + ".")
    method = take("method", lambda m: m in METHODS, f"one of {', '.join(METHODS)}")
    count, seconds = (_is_opt_count, "a whole number or null"), (_is_opt_amount, "a number or null")
    return Usage(
        method=method,
        cpu_s=take("cpu_s", *seconds, None),
        peak_memory_bytes=take("peak_memory_bytes", *count, None),
        mean_cpu_percent=take("mean_cpu_percent", *seconds, None),
        read_bytes=take("read_bytes", *count, None),
        write_bytes=take("write_bytes", *count, None),
        gpu_peak_memory_bytes=take("gpu_peak_memory_bytes", *count, None),
        sample_interval_s=take("sample_interval_s", *seconds, None),
        oom_killed=take("oom_killed", _is_bool, "true or false", False),
        memory_limit_bytes=take("memory_limit_bytes", *count, None),
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


def _is_opt_count(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _is_opt_amount(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 0


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_list(value: object) -> bool:
    return isinstance(value, list)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_objects(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


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
