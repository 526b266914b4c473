"""show, compare and trend on summaries as they are found: old, trimmed by hand, or not
summaries at all. What can be read is read; what cannot is one line, exit 2."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SCHEMA, Project, summary_document

OLD_JOB: dict[str, Any] = {
    "id": "a",
    "script": "training/train_a.py",
    "argv": ["python", "training/train_a.py"],
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
    "log_path": "logs/a.log",
    "output_dir": "results/a_results",
    "metrics": {"accuracy": 0.9},
}
#: A summary as the first versions wrote it: schema 1, before gates, needs, sweeps, backend.
VERSION_1: dict[str, Any] = {
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
    "jobs": [OLD_JOB],
}


def with_job(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VERSION_1)
    data["jobs"][0].update(changes)
    return data


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def write_run(project: Project, name: str, data: object) -> str:
    (project.root / name).write_text(json.dumps(data))
    return name


def test_show_compare_trend_read_a_summary_without_tags_or_host(project: Project) -> None:
    trimmed = summary_document(
        [copy.deepcopy(OLD_JOB)], started_at="2026-01-06T10:00:00.000Z", check=False
    )
    del trimmed["host"]
    for job in trimmed["jobs"]:
        del job["tags"]
    old = write_run(project, "old.json", VERSION_1)
    new = write_run(project, "new.json", trimmed)

    show = project.run("show", new)
    assert show.returncode == 0, show.stderr
    assert show.stdout.splitlines()[0] == "run 2026-01-06T10:00:00.000Z"
    assert "a    succeeded" in show.stdout
    compare = project.run("compare", old, new, "--fail-on-regression")
    assert (compare.returncode, compare.stdout.splitlines()[0]) == (0, "✅ no regressions")
    trend = project.run("trend", old, new)
    assert trend.returncode == 0, trend.stderr
    assert "2 runs from 01-05 10:00 to 01-06 10:00 (UTC)" in trend.stdout
    shown = project.run("show", old, "--format", "json")
    jsonschema.validate(strict_json(shown.stdout), SCHEMA)


@pytest.mark.parametrize("command", ["show", "compare", "trend"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            with_job(status="exploded"),
            "bad.json: jobs[0] ('a').status: unknown status 'exploded'",
        ),
        ({"jobs": [], "summary": "elsewhere"}, "bad.json: not a run summary: no schema_version"),
        (with_job(metrics=[0.9]), "metrics: expected an object"),
    ],
)
def test_show_compare_trend_refuse_a_bad_summary_in_one_line(
    project: Project, command: str, data: object, message: str
) -> None:
    bad = write_run(project, "bad.json", data)
    good = write_run(project, "good.json", VERSION_1)
    args = [command, bad] if command == "show" else [command, good, bad]
    result = project.run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["show", "/dev/zero"], "error: /dev/zero: cannot read: "),
        (["compare", "good.json", "/dev/zero"], "error: /dev/zero: cannot read: "),
        (["trend", "good.json", "/dev/zero"], "error: /dev/zero: cannot read: "),
        (["--resume", "/dev/zero"], "error: cannot resume: /dev/zero: cannot read: "),
        (["summarize", "--from-journal", "/dev/zero"], "error: /dev/zero: cannot read: "),
    ],
)
def test_a_path_that_never_ends_is_refused_not_read_until_memory_runs_out(
    project: Project, args: list[str], prefix: str
) -> None:
    """/dev/zero (or a stray multi-gigabyte file) was read whole: the command grew
    until the kernel killed it, ignoring Ctrl-C meanwhile."""
    write_run(project, "good.json", VERSION_1)
    project.script("training/train_a.py")  # a project that --resume would run
    result = project.run(*args)
    assert (result.returncode, result.stderr) == (
        2,
        prefix + "larger than 256 MiB: not a summary or journal\n",
    )


def test_trend_over_a_dir_leaves_out_an_unreadable_run_that_show_and_compare_refuse(
    project: Project,
) -> None:
    """One summary no reader takes (a newer orchestrator's, a truncated copy) among a
    directory's runs refused the whole trend; show and compare, which take the newest run,
    must still refuse it rather than read an older one in its place."""
    runs = project.root / "runs"
    runs.mkdir()
    write_run(project, "runs/training_summary_20260105T100000Z.json", VERSION_1)
    newest = runs / "training_summary_20260106T100000Z.json"
    newest.write_text('{"schema_version": 9')
    trend = project.run("trend", "runs")
    assert trend.returncode == 0, trend.stderr
    assert trend.stderr == f"warning: {Path('runs') / newest.name}: invalid JSON: " + (
        "Expecting ',' delimiter (line 1, column 21) (left out)\n"
    )
    assert "1 run from 01-05 10:00" in trend.stdout
    for args in (["show", "runs"], ["compare", "runs", "runs"], ["trend", f"runs/{newest.name}"]):
        refused = project.run(*args)
        assert (refused.returncode, refused.stderr.startswith(f"error: runs/{newest.name}")) == (
            2,
            True,
        ), args


def test_show_of_an_older_run_prints_no_later_runs_log_as_its_own(project: Project) -> None:
    project.script("training/train_a.py", "import sys; print('run 1 failed'); sys.exit(3)\n")
    assert project.run().returncode == 1
    (older,) = (project.root / "summaries").glob("training_summary_*.json")
    assert "run 1 failed" in project.run("show", str(older)).stdout
    header = "=== attempt 1/1 · 2099-01-01T00:00:00Z · python training/train_a.py"
    (project.root / "logs/a.log").write_text(f"{header}\nrun 2 output\n")  # a later run's
    show = project.run("show", str(older))
    assert "run 2 output" not in show.stdout
    assert "── a: exit 3 · logs/a.log is a later run's now: no tail" in show.stdout
    markdown = project.run("show", str(older), "--format", "markdown").stdout
    assert "run 2 output" not in markdown
