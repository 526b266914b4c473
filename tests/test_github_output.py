"""What GitHub Actions reads, as values (issue 18, point 5): escaped annotations folded at
GitHub's limit, step outputs no value can forge, a log tail that cannot run commands."""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path
from typing import Any

import pytest

from orchestrator.models import JobResult, PlannedJob, RetryPolicy, Status
from orchestrator.report.github import (
    ANNOTATION_LIMIT,
    _escape_data,
    _escape_property,
    append_step_summary,
    github_annotations,
    github_log_tail,
    set_step_outputs,
)
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary


def test_data_and_properties_are_escaped_as_github_reads_them() -> None:
    assert _escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert _escape_property("job:a,b%\n") == "job%3Aa%2Cb%25%0A"


def job_record(job_id: str, status: str, *, optional: bool = False) -> JobRecord:
    """A job as a run records it: one that was started has an attempt (and so a log)."""
    ran = (
        ()
        if status == "skipped"
        else (AttemptRecord(1, Status.FAILED, "2026-03-01T09:00:00Z", 1.0),)
    )
    return JobRecord(
        id=job_id,
        status=Status(status),
        optional=optional,
        reason="exit 1",
        log_path=f"logs/{job_id}.log",
        attempts=ran,
    )


def printed_annotations(summary: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The annotations of a run with these options and jobs."""
    github_annotations(
        RunSummary(
            started_at="2026-11-29T10:00:00.000Z",
            ended_at="2026-11-29T10:00:01.000Z",
            exit_code=1,
            jobs=tuple(summary["jobs"]),
            options=summary["options"],
        )
    )
    return capsys.readouterr().out.splitlines()


def test_required_failures_are_errors_and_optional_ones_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = {
        "options": {"gates": "enforce"},
        "jobs": [
            job_record("ok", "succeeded"),
            job_record("later", "skipped"),
            job_record("a:b", "failed"),
            job_record("legacy", "failed", optional=True),
            job_record("gate", "gate_failed"),
        ],
    }
    assert printed_annotations(summary, capsys) == [
        "::error title=a%3Ab::a:b failed: exit 1 (log: logs/a:b.log)",
        "::error title=gate::gate gate_failed: exit 1 (log: logs/gate.log)",
        "::warning title=legacy::legacy failed: exit 1 (log: logs/legacy.log)",
    ]


def test_gates_only_reported_are_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    summary = {"options": {"gates": "report"}, "jobs": [job_record("gate", "gate_failed")]}
    assert printed_annotations(summary, capsys) == [
        "::warning title=gate::gate gate_failed: exit 1 (log: logs/gate.log)"
    ]


def test_past_githubs_limit_the_rest_are_folded_into_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    jobs = [job_record(f"j{n}", "failed") for n in range(ANNOTATION_LIMIT + 2)]
    lines = printed_annotations({"options": {}, "jobs": jobs}, capsys)
    assert len(lines) == ANNOTATION_LIMIT
    assert lines[-2].startswith("::error title=j8::")
    assert lines[-1] == "::error title=3 more jobs::j9, j10, j11"


def test_a_step_output_cannot_be_forged_by_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    set_step_outputs({"verdict": "1 failed: evil\nexit-code=0", "exit-code": "1"})
    lines = target.read_text(encoding="utf-8").splitlines()
    verdict_end, code_end = lines[0].removeprefix("verdict<<"), lines[4].removeprefix("exit-code<<")
    assert verdict_end.startswith("ghadelimiter_")
    assert verdict_end != code_end  # a fresh delimiter per value
    assert lines == [
        f"verdict<<{verdict_end}",
        "1 failed: evil",
        "exit-code=0",  # inside the verdict's delimiters: only text
        verdict_end,
        f"exit-code<<{code_end}",
        "1",
        code_end,
    ]


def test_outside_github_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    set_step_outputs({"exit-code": "0"})
    append_step_summary("## done\n")
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_a_step_summary_that_cannot_be_written_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    append_step_summary("## done\n")
    assert capsys.readouterr().err == (
        f"warning: could not write the step summary ({target}): No such file or directory\n"
    )


def test_a_step_summary_fifo_nobody_reads_is_a_warning_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening it for writing waited for a reader for ever, deaf to Ctrl-C."""
    target = tmp_path / "summary.fifo"
    os.mkfifo(target)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    append_step_summary("## done\n")
    assert capsys.readouterr().err == (
        f"warning: could not write the step summary ({target}): a FIFO that nobody reads\n"
    )


def test_a_step_summary_pipe_with_a_reader_gets_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", f"/proc/self/fd/{write_end}")
    text = "## done\n" + "x" * 200_000 + "\n"  # past a pipe's buffer: blocking writes
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reading = pool.submit(_read_all, read_end)
        append_step_summary(text)
        os.close(write_end)
        assert reading.result() == text.encode()


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def failed_job(log: Path) -> JobResult:
    job = PlannedJob(
        id="fit",
        argv=("true",),
        cwd=".",
        env=(),
        output_dir="out",
        log_path=str(log),
        retries=0,
        retry=RetryPolicy(),
        timeout=None,
        grace=1.0,
        cpus=1,
        priority="normal",
        gates=(),
        optional=False,
        tags=(),
        source="fit",
    )
    return JobResult(job, Status.FAILED)


def test_a_log_tail_is_grouped_with_workflow_commands_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "fit.log"
    log.write_text("one\n::add-mask::x\ntwo\nthree\n", encoding="utf-8")
    github_log_tail(failed_job(log), lines=3)
    lines = capsys.readouterr().out.splitlines()
    token = lines[1].removeprefix("::stop-commands::")
    assert len(token) == 16
    assert lines == [
        f"::group::fit: last 3 log lines ({log})",
        f"::stop-commands::{token}",
        "::add-mask::x",
        "two",
        "three",
        f"::{token}::",
        "::endgroup::",
    ]
