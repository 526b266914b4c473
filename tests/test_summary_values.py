"""The summary's writers as values (issue 18, points 1 and 5): a live run, a journal's
rebuild and a merge of shards each build a `RunSummary`, with no process and no CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import OrchestratorError
from orchestrator.events import AttemptEnded, AttemptStarted, JobFinished, RunFinished, RunStarted
from orchestrator.models import Attempt, JobResult, JobSpec, Plan, RunOptions, Status
from orchestrator.outcome import EXIT_FAILED, EXIT_OK
from orchestrator.plan import build_plan
from orchestrator.report.journal import Journal, read_journal, rebuild_summary
from orchestrator.report.junit import render
from orchestrator.report.summary import RunInfo, assemble, job_record, write_summary
from orchestrator.run_summary import (
    AttemptRecord,
    JobRecord,
    RunSummary,
    dump,
    load,
    succeeded_durations,
)
from orchestrator.shards import merge_summaries

HEADER: dict[str, Any] = {
    "host": "ci-7",
    "python": "3.12.1",
    "orchestrator_version": "1.0.0",
    "git_commit": "abc123",
    "options": {"max_workers": 2, "shard": None, "allow_partial_success": False},
    "backend": {"name": "local"},
}


def two_job_plan() -> Plan:
    specs = [JobSpec(id=name, script=f"train_{name}.py", flags=("--output-dir",)) for name in "ab"]
    return build_plan(
        specs, RunOptions(output_root="out"), python="py", cpu_count=2, inherited_env={}
    )


def journaled(path: Path, plan: Plan, *events: object) -> list[dict[str, Any]]:
    journal = Journal(path, HEADER)
    journal.emit(RunStarted(plan, 100.0))
    for event in events:
        journal.emit(event)  # type: ignore[arg-type]
    journal.close()
    return read_journal(path)


def test_a_journal_rebuilds_the_summary_the_run_wrote(tmp_path: Path) -> None:
    plan = two_job_plan()
    a, b = plan.jobs
    failed = Attempt(1, 100.5, 2.0, Status.FAILED, exit_code=1)
    passed = Attempt(2, 103.5, 4.25, Status.SUCCEEDED, exit_code=0)
    killed = Attempt(1, 101.0, 1.5, Status.FAILED, signal=9)
    results = (
        JobResult(a, Status.SUCCEEDED, (failed, passed), (("accuracy", 0.9), ("loss", math.inf))),
        JobResult(b, Status.FAILED, (killed,), reason="killed by SIGKILL"),
    )
    records = journaled(
        tmp_path / "journal.jsonl",
        plan,
        AttemptStarted(a, 1, 2, 100.5),
        AttemptStarted(b, 1, 1, 101.0),
        AttemptEnded(a, failed, 2, 1.0),
        AttemptEnded(b, killed, 1, None),
        JobFinished(results[1]),
        AttemptStarted(a, 2, 2, 103.5),
        AttemptEnded(a, passed, 2, None),
        JobFinished(results[0]),
        RunFinished(results, EXIT_FAILED, 100.0, 110.0, None),
    )

    rebuilt = rebuild_summary(records, "journal.jsonl")
    live = assemble(HEADER, [job_record(r) for r in results], RunInfo(100.0, 110.0, EXIT_FAILED))

    assert rebuilt == live
    assert dump(rebuilt) == dump(live)  # the same file on disk
    assert rebuilt.counts == live.counts == {"succeeded": 1, "failed": 1}
    assert rebuilt.started_at == "1970-01-01T00:01:40.000Z"
    assert rebuilt.ended_at == "1970-01-01T00:01:50.000Z"
    assert rebuilt.jobs[0].metrics == {"accuracy": 0.9, "loss": math.inf}
    assert rebuilt.jobs[0].attempts == (
        AttemptRecord(1, Status.FAILED, "1970-01-01T00:01:40.500Z", 2.0, exit_code=1),
        AttemptRecord(2, Status.SUCCEEDED, "1970-01-01T00:01:43.500Z", 4.25, exit_code=0),
    )


def test_a_run_killed_midway_rebuilds_as_cancelled_and_never_started(tmp_path: Path) -> None:
    plan = two_job_plan()
    a, _ = plan.jobs
    records = journaled(tmp_path / "journal.jsonl", plan, AttemptStarted(a, 1, 1, 100.5))

    rebuilt = rebuild_summary(records, "journal.jsonl")

    assert [(job.id, job.status, job.reason) for job in rebuilt.jobs] == [
        ("a", Status.CANCELLED, "orchestrator stopped during attempt 1"),
        ("b", Status.SKIPPED, "never started"),
    ]
    assert rebuilt.jobs[1] == JobRecord(
        id="b",
        status=Status.SKIPPED,
        script="train_b.py",
        argv=plan.jobs[1].argv,
        reason="never started",
        log_path=plan.jobs[1].log_path,
        output_dir=plan.jobs[1].output_dir,
    )
    assert rebuilt.exit_code == EXIT_FAILED
    assert rebuilt.ended_at == "1970-01-01T00:01:40.500Z"  # its last record


def test_a_damaged_job_record_in_a_journal_is_named(tmp_path: Path) -> None:
    plan = two_job_plan()
    records = journaled(tmp_path / "journal.jsonl", plan)
    records.append(
        {"event": "job_finished", "job": "a", "result": {"id": "a", "status": "ok", "metrics": {}}}
    )

    with pytest.raises(OrchestratorError, match=r"^j\.jsonl: job_finished \('a'\)\.status: "):
        rebuild_summary(records, "j.jsonl")


def test_the_written_summary_loads_back_as_the_same_value(tmp_path: Path) -> None:
    plan = two_job_plan()
    result = JobResult(
        plan.jobs[0],
        Status.SUCCEEDED,
        (Attempt(1, 100.25, 3.0, Status.SUCCEEDED, exit_code=0),),
        (("accuracy", 0.5), ("loss", -math.inf)),
    )
    summary = assemble(HEADER, [job_record(result)], RunInfo(100.0, 104.0, EXIT_OK))

    path = write_summary(summary, tmp_path, "20261129T133000Z")

    assert load(path) == summary
    assert (tmp_path / "latest.json").read_text() == path.read_text() == dump(summary)
    assert json.loads(path.read_text())["jobs"][0]["metrics"] == {
        "accuracy": 0.5,
        "loss": "-Infinity",
    }


def shard(label: str, started_at: str, ended_at: str, *jobs: JobRecord) -> RunSummary:
    return RunSummary(
        started_at=started_at,
        ended_at=ended_at,
        exit_code=EXIT_OK,
        jobs=jobs,
        host=f"runner-{label[0]}",
        options={"shard": label, "shard_jobs": ["x"], "gates": "enforce"},
    )


def test_two_shards_merge_into_one_run() -> None:
    first = shard(
        "1/2",
        "2026-11-29T10:00:00.000Z",
        "2026-11-29T10:05:00.000Z",
        JobRecord("a", Status.SUCCEEDED, duration_s=300.0),
    )
    second = shard(
        "2/2",
        "2026-11-29T10:01:00.000Z",
        "2026-11-29T10:04:00.000Z",
        JobRecord("b", Status.SUCCEEDED, optional=True),
    )

    merged = merge_summaries([first, second], {"1/2": ["a"], "2/2": ["b", "c"]})

    assert merged.jobs == (
        JobRecord("a", Status.SUCCEEDED, duration_s=300.0, shard="1/2"),
        JobRecord("b", Status.SUCCEEDED, optional=True, shard="2/2"),
        JobRecord(
            "c",
            Status.SKIPPED,
            argv=("(not run)",),
            reason="shard 2/2 never reported it",
            log_path="logs/c.log",
        ),
    )
    assert (merged.started_at, merged.ended_at, merged.duration_s) == (
        "2026-11-29T10:00:00.000Z",
        "2026-11-29T10:05:00.000Z",
        300.0,
    )
    assert merged.exit_code == EXIT_FAILED  # a required job never ran
    assert merged.counts == {"succeeded": 2, "skipped": 1}
    assert merged.host == "runner-1"
    assert merged.options == {"shard": None, "shard_jobs": None, "gates": "enforce"}


def test_junit_renders_the_typed_summary(tmp_path: Path) -> None:
    summary = shard(
        "1/1",
        "2026-11-29T10:00:00.000Z",
        "2026-11-29T10:00:02.500Z",
        JobRecord(
            "a",
            Status.FAILED,
            reason="exit 1",
            log_path="a.log",
            duration_s=2.5,
            attempts=(AttemptRecord(1, Status.FAILED, "2026-11-29T10:00:00.000Z", 2.5),),
        ),
        JobRecord("b", Status.SKIPPED, metrics={"loss": math.nan}),
    )
    (tmp_path / "a.log").write_text("Traceback\nValueError: no\n")  # a's attempt wrote it
    summary = replace(summary, duration_s=2.5)

    xml = render(summary, tmp_path)

    assert 'tests="2" failures="1" errors="0" skipped="1" time="2.500"' in xml
    assert 'timestamp="2026-11-29T10:00:00" hostname="runner-1"' in xml
    assert '<failure message="exit 1" type="failed">Traceback\nValueError: no</failure>' in xml
    assert "<system-out>loss=NaN</system-out>" in xml


def test_durations_come_from_a_whole_summary_or_one_trimmed_to_them(tmp_path: Path) -> None:
    whole = shard(
        "1/1",
        "2026-11-29T10:00:00.000Z",
        "2026-11-29T10:00:09.000Z",
        JobRecord("a", Status.SUCCEEDED, duration_s=4.5),
        JobRecord("b", Status.FAILED, duration_s=9.0),
    )
    (tmp_path / "whole.json").write_text(dump(whole))
    trimmed = {"jobs": [{"id": "a", "status": "succeeded", "duration_s": 2}]}
    (tmp_path / "trimmed.json").write_text(json.dumps(trimmed))
    (tmp_path / "other.json").write_text('{"include": []}')

    assert succeeded_durations(tmp_path / "whole.json") == {"a": 4.5}
    assert succeeded_durations(tmp_path / "trimmed.json") == {"a": 2.0}
    assert succeeded_durations(tmp_path / "other.json") == {}
    assert succeeded_durations(tmp_path / "missing.json") == {}
