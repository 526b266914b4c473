"""The typed run summary: one loader for every reader, tolerant of old files, clear on bad
ones; one dump, whose JSON any parser reads and the published schema accepts."""

from __future__ import annotations

import errno
import json
import math
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SCHEMA
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.run_summary import (
    AttemptRecord,
    JobRecord,
    RunSummary,
    dump,
    from_document,
    in_run_order,
    journal_name,
    load,
    read_text,
    summary_files,
    summary_name,
)

# ------------------------------------------------------------------ round trip (values)
TEXT = st.text(max_size=12)
NAMES = st.text(min_size=1, max_size=12)


def utc(millis: int) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"
    )


UTC = st.integers(0, 4_000_000_000_000).map(utc)
SECONDS = st.floats(0, 1e6, allow_nan=False)
METRIC = st.floats(allow_nan=True, allow_infinity=True)
ATTEMPT_STATES = [Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED]
ATTEMPTS = st.builds(
    AttemptRecord,
    number=st.integers(1, 9),
    status=st.sampled_from(ATTEMPT_STATES),
    started_at=UTC,
    duration_s=SECONDS,
    exit_code=st.none() | st.integers(-255, 255),
    signal=st.none() | st.integers(1, 64),
    node=st.none() | TEXT,
    error=st.none() | TEXT,
)
JOBS = st.builds(
    JobRecord,
    id=NAMES,
    status=st.sampled_from(list(Status)),
    script=TEXT,
    argv=st.lists(TEXT, min_size=1, max_size=3).map(tuple),
    reason=st.none() | TEXT,
    optional=st.booleans(),
    tags=st.lists(TEXT, max_size=3).map(tuple),
    attempts=st.lists(ATTEMPTS, max_size=2).map(tuple),
    duration_s=SECONDS,
    log_path=TEXT,
    output_dir=TEXT,
    metrics=st.dictionaries(NAMES, METRIC, max_size=4),
    gates=st.lists(TEXT, max_size=2).map(tuple),
    headline=st.none() | TEXT,
    needs=st.lists(TEXT, max_size=2).map(tuple),
    from_run=st.none() | TEXT,
    sweep=st.none() | st.dictionaries(TEXT, st.integers() | TEXT, max_size=2),
    shard=st.none() | st.just("1/2"),
)
SUMMARIES = st.builds(
    RunSummary,
    started_at=UTC,
    ended_at=UTC,
    exit_code=st.integers(0, 255),
    jobs=st.lists(JOBS, max_size=4).map(tuple),
    duration_s=SECONDS,
    interrupted_by=st.none() | st.just("SIGTERM"),
    host=st.none() | TEXT,
    python=st.none() | TEXT,
    orchestrator_version=st.none() | TEXT,
    git_commit=st.none() | TEXT,
    options=st.dictionaries(TEXT, st.booleans() | st.none(), max_size=2),
    backend=st.just({"name": "local"}),
    counts=st.dictionaries(st.sampled_from([s.value for s in Status]), st.integers(1, 9)),
)


def strict_json(text: str) -> Any:
    """JSON as the spec (and every browser, jq, Go...) reads it: NaN is no token."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def same_metrics(a: RunSummary, b: RunSummary) -> bool:
    """Equal, where NaN (which equals nothing) counts as equal to NaN."""
    pairs = [(x.metrics, y.metrics) for x, y in zip(a.jobs, b.jobs, strict=True)]
    return all(
        x.keys() == y.keys()
        and all(x[k] == y[k] or (math.isnan(x[k]) and math.isnan(y[k])) for k in x)
        for x, y in pairs
    )


@given(SUMMARIES)
def test_dump_then_load_gives_the_same_summary(summary: RunSummary) -> None:
    text = dump(summary)
    document = strict_json(text)
    jsonschema.validate(
        {**document, "jobs": [{**j, "argv": j["argv"] or ["x"]} for j in document["jobs"]]},
        SCHEMA,
    )
    again = from_document(json.loads(text), "dumped")
    assert same_metrics(again, summary)
    if not any(math.isnan(v) for job in summary.jobs for v in job.metrics.values()):
        assert again == summary
    assert dump(again) == text


def test_non_finite_metrics_are_strings_in_the_file_and_floats_in_memory(tmp_path: Path) -> None:
    job = JobRecord("a", Status.SUCCEEDED, metrics={"acc": math.nan, "up": math.inf, "lo": -1e999})
    summary = RunSummary("2026-03-01T09:00:00.000Z", "2026-03-01T09:00:01.000Z", 0, (job,))
    path = tmp_path / "s.json"
    path.write_text(dump(summary))

    assert strict_json(path.read_text())["jobs"][0]["metrics"] == {
        "acc": "NaN",
        "up": "Infinity",
        "lo": "-Infinity",
    }
    metrics = load(path).jobs[0].metrics
    assert math.isnan(metrics["acc"])
    assert (metrics["up"], metrics["lo"]) == (math.inf, -math.inf)


# ------------------------------------------------------------------- older summaries
def version_1_job(job_id: str) -> dict[str, Any]:
    """A job as the first summaries wrote it: no gates, headline, needs, sweep, node..."""
    return {
        "id": job_id,
        "script": f"training/train_{job_id}.py",
        "argv": ["python", f"training/train_{job_id}.py"],
        "status": "succeeded",
        "reason": None,
        "optional": False,
        "tags": [],
        "attempts": [
            {
                "number": 1,
                "status": "succeeded",
                "started_at": "2026-01-05T10:00:00Z",
                "duration_s": 1.5,
                "exit_code": 0,
                "signal": None,
            }
        ],
        "duration_s": 1.5,
        "log_path": f"logs/{job_id}.log",
        "output_dir": f"results/{job_id}_results",
        "metrics": {"accuracy": 0.9},
    }


VERSION_1 = {
    "schema_version": 1,
    "started_at": "2026-01-05T10:00:00Z",
    "ended_at": "2026-01-05T10:00:02Z",
    "duration_s": 2.0,
    "exit_code": 0,
    "interrupted_by": None,
    "host": "ci",
    "python": "3.11.7",
    "orchestrator_version": "0.1.0",
    "git_commit": None,
    "options": {},
    "counts": {"succeeded": 1},
    "jobs": [version_1_job("a")],
}


def test_a_version_1_summary_loads_with_defaults() -> None:
    summary = from_document(VERSION_1, "old.json")

    (job,) = summary.jobs
    assert job.metrics == {"accuracy": 0.9}
    assert (job.gates, job.headline, job.needs, job.sweep) == ((), None, (), None)
    assert job.attempts[0].node is None
    assert summary.backend == {"name": "local"}
    jsonschema.validate(strict_json(dump(summary)), SCHEMA)  # rewritten as the current schema


def test_missing_descriptive_fields_have_defaults() -> None:
    """tags and host were in every summary ever written, but a hand-made or trimmed one
    may lack them; nothing needs them to show or compare a run."""
    job = {"id": "a", "status": "succeeded", "metrics": {}}
    summary = from_document(
        {"schema_version": 2, "started_at": "2026-01-05T10:00:00Z", "exit_code": 0, "jobs": [job]},
        "trimmed.json",
    )
    assert (summary.host, summary.jobs[0].tags, summary.jobs[0].attempts) == (None, (), ())
    assert summary.ended_at == summary.started_at


# ------------------------------------------------------------------------ bad files
def job_with(**changes: Any) -> dict[str, Any]:
    job = version_1_job("a")
    job.update(changes)
    return {k: v for k, v in job.items() if v is not ...}


def document_with(**changes: Any) -> dict[str, Any]:
    data = {**VERSION_1, **changes}
    return {k: v for k, v in data.items() if v is not ...}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a run summary: expected a JSON object, got a list"),
        ({"include": []}, "not a run summary: no schema_version (this is a shard matrix"),
        (
            {"output_root": ".", "edges": [], "jobs": []},
            "not a run summary: no schema_version (this is a --dry-run plan",
        ),
        (
            document_with(schema_version=9),
            "schema_version 9: written by a newer orchestrator; upgrade to read it (this one "
            "reads 1, 2, 3)",
        ),
        (document_with(schema_version="2"), "schema_version '2': unknown"),
        (document_with(started_at="yesterday"), "started_at: expected a UTC time"),
        (document_with(jobs={"a": {}}), "jobs: expected a list, got an object"),
        (document_with(jobs=[[]]), "jobs[0]: expected an object, got a list"),
        (document_with(jobs=[job_with(id=...)]), "jobs[0].id: missing"),
        (
            document_with(jobs=[job_with(status="exploded")]),
            "jobs[0] ('a').status: unknown status 'exploded' (known: succeeded, failed,",
        ),
        (document_with(jobs=[job_with(metrics=...)]), "jobs[0] ('a').metrics: missing"),
        (
            document_with(jobs=[job_with(metrics={"acc": "high"})]),
            "jobs[0] ('a').metrics.acc: expected a number or one of 'NaN', 'Infinity', "
            "'-Infinity', got the string 'high'",
        ),
        (document_with(jobs=[job_with(tags="smoke")]), "jobs[0] ('a').tags: expected a list"),
        (
            document_with(jobs=[job_with(attempts=[{"number": 1}])]),
            "jobs[0] ('a').attempts[0].status: missing",
        ),
        (document_with(host=7), "host: expected a string or null, got a number"),
    ],
)
def test_a_bad_summary_is_one_line_naming_file_and_field(data: object, message: str) -> None:
    with pytest.raises(OrchestratorError) as caught:
        from_document(data, "runs/x.json")
    text = str(caught.value)
    assert text.startswith("runs/x.json: " + message)
    assert "\n" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "invalid JSON: Expecting value (line 1, column 1)"),
        (b'{"schema_version": 2,', "invalid JSON: Expecting property name"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"[" * 100_000, "invalid JSON: nested too deep"),
        (
            b'{"exit_code": 1' + b"0" * 5000 + b"}",
            "unreadable JSON: Exceeds the limit (4300 digits)",
        ),
    ],
)
def test_an_unreadable_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(OrchestratorError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_runs_in_the_same_second_keep_their_order_past_nine(tmp_path: Path) -> None:
    """Run ids are the start second, then `_2`, `_3`…: the tenth run of a second is newer
    than the second one, though `_10` sorts before `_2` by name."""
    stamp = "20261125T224107Z"
    ids = [stamp, *(f"{stamp}_{n}" for n in range(2, 12)), "20261125T224108Z"]
    for run_id in reversed(ids):
        (tmp_path / journal_name(run_id)).write_text("")
        (tmp_path / summary_name(run_id)).write_text("{}")
    journals = in_run_order(tmp_path.glob(journal_name("*")))
    assert [p.name for p in journals] == [journal_name(run_id) for run_id in ids]
    assert [p.name for p in summary_files(tmp_path)] == [summary_name(run_id) for run_id in ids]


def test_a_summary_is_read_no_further_than_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b'{"jobs": []}')
    assert read_text(path, limit=12) == '{"jobs": []}'
    with pytest.raises(OSError, match="larger than 0 MiB") as raised:
        read_text(path, limit=11)
    assert raised.value.errno == errno.EFBIG
