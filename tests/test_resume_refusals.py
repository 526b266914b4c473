"""`--resume FILE` with a file that is not a run's summary or journal is one line naming
the file and what is wrong, exit 2: never a traceback, never an empty reason."""

from __future__ import annotations

import json

import pytest
from conftest import Project


def resume_error(project: Project, name: str, content: str) -> str:
    project.script("training/train_a.py")
    (project.root / name).write_text(content)
    result = project.run("--resume", name)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr.removesuffix("\n")


def test_resume_from_a_dry_run_plan_says_so(project: Project) -> None:
    project.script("training/train_a.py")
    plan = project.run("--dry-run", "--format", "json").stdout
    assert resume_error(project, "plan.json", plan) == (
        "error: cannot resume: plan.json: not a run summary: no schema_version "
        "(this is a --dry-run plan, not a run's summary)"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[]", "not a run summary: expected a JSON object, got a list"),
        ('{"schema_version": 2, "started_at": "2026-01-05T10:00:00Z", ', "invalid JSON:"),
        (
            json.dumps(
                {
                    "schema_version": 2,
                    "started_at": "2026-01-05T10:00:00Z",
                    "exit_code": 0,
                    "jobs": [{"id": "a", "status": "succeeded"}],
                }
            ),
            "jobs[0] ('a').metrics: missing",
        ),
        (
            json.dumps(
                {
                    "schema_version": 2,
                    "started_at": "2026-01-05T10:00:00Z",
                    "exit_code": 0,
                    "jobs": [{"id": "a", "status": "done", "metrics": {}}],
                }
            ),
            "jobs[0] ('a').status: unknown status 'done'",
        ),
    ],
    ids=["a list", "cut short", "a job without metrics", "an unknown status"],
)
def test_resume_from_a_file_that_is_not_a_summary(project: Project, content: str, why: str) -> None:
    assert resume_error(project, "run.json", content).startswith(
        f"error: cannot resume: run.json: {why}"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("", "not a run journal (no run_started record)"),
        ('{"event": "run_sta', "not a run journal (no run_started record)"),
        ('[1]\n{"event": "run_started"}\n', "not a usable journal (TypeError "),
        ('{"event": "run_started", "at": 1}\n{"event": "job_queued"}\n', "not a usable journal"),
    ],
    ids=["empty", "cut in its first line", "not records", "records without their fields"],
)
def test_resume_from_a_journal_that_is_not_one(project: Project, content: str, why: str) -> None:
    message = resume_error(project, "journal_x.jsonl", content)
    assert message.startswith(f"error: cannot resume: journal_x.jsonl: {why}")
