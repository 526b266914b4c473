"""The step summary's parts from typed records, in-process: no run, no parser."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orchestrator.models import Status
from orchestrator.report import junit, markdown, timeline
from orchestrator.report.live import last_line
from orchestrator.report.logs import tail_lines, written_by_run
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary

START = "2026-03-01T09:00:00.000Z"


def job(
    job_id: str,
    status: Status = Status.SUCCEEDED,
    *,
    tags: tuple[str, ...] = (),
    metrics: dict[str, float] | None = None,
    gates: tuple[str, ...] = (),
    reason: str | None = None,
) -> JobRecord:
    """A job with one 1.5 s attempt at START (a gate-failed job's attempt succeeded)."""
    ran = Status.SUCCEEDED if status is Status.GATE_FAILED else status
    return JobRecord(
        job_id,
        status,
        attempts=(AttemptRecord(1, ran, START, 1.5),),
        tags=tags,
        metrics=metrics or {},
        gates=gates,
        reason=reason,
    )


def test_verdict_counts_jobs_and_sweep_trials_apart() -> None:
    summary = RunSummary(
        START,
        START,
        exit_code=1,
        duration_s=75.0,
        interrupted_by="SIGINT",
        jobs=(
            job("a"),
            job("b", Status.FAILED),
            job("s"),
            job("s[0]", tags=("sweep:s",)),
            job("s[1]", Status.PRUNED, tags=("sweep:s",)),
        ),
    )

    assert markdown.verdict(summary) == (
        "## ❌ Training run: 2 succeeded · 1 failed (+2 sweep trials) · 1m15s"
        " · interrupted by SIGINT · exit 1"
    )


def test_metrics_and_gates_text() -> None:
    scored = job(
        "a",
        metrics={"n_rows": 10.0, "loss": 0.25, "accuracy": 0.9},
        gates=("accuracy >= 0.8",),
        reason="loss.json missing",
    )
    gated = job("b", Status.GATE_FAILED, metrics={"accuracy": 0.5}, reason="accuracy 0.5 < 0.8")
    failed = job("c", Status.FAILED, metrics={"accuracy": 0.1}, reason="exit 1")

    assert markdown.metrics_text(scored) == "accuracy 0.9, loss 0.25 ⚠️ loss.json missing"
    assert markdown.gates_text(scored) == "✓ accuracy >= 0.8"
    assert markdown.metrics_text(gated) == "accuracy 0.5"
    assert markdown.gates_text(gated) == "✗ accuracy 0.5 < 0.8"
    assert markdown.metrics_text(failed) == "exit 1"
    assert markdown.gates_text(failed) == "—"
    assert [markdown.is_failure(j) for j in (scored, gated, failed)] == [False, True, True]


def test_gantt_bar_per_attempt_tagged_by_outcome() -> None:
    summary = RunSummary(
        START,
        START,
        exit_code=1,
        jobs=(job("ok"), job("gated", Status.GATE_FAILED), job("bad", Status.FAILED)),
    )

    tasks = [line.strip() for line in timeline.gantt(summary) if " :" in line]

    start = 1772355600000  # START in epoch milliseconds
    assert tasks == [
        f"· bad :crit, {start}, {start + 1500}",
        f"· gated :active, {start}, {start + 1500}",
        f"· ok :done, {start}, {start + 1500}",
    ]


def test_a_failure_without_attempts_shows_no_earlier_runs_log(tmp_path: Path) -> None:
    """A sweep whose trials all failed runs no process of its own: logs/<sweep>.log, when
    there, is an earlier run's (the job before it became a sweep) and was shown as this
    failure's tail."""
    (tmp_path / "logs").mkdir()
    for name in ("sweep", "fit"):
        (tmp_path / f"logs/{name}.log").write_text(f"{name}: an earlier run's output\n")
    sweep = dataclasses.replace(job("sweep", Status.FAILED), attempts=(), log_path="logs/sweep.log")
    fit = dataclasses.replace(job("fit", Status.FAILED), log_path="logs/fit.log")
    summary = RunSummary(START, START, exit_code=1, duration_s=1.5, jobs=(sweep, fit))
    for text in (markdown.render(summary, tmp_path), junit.render(summary, tmp_path)):
        assert "fit: an earlier run's output" in text  # fit's attempt wrote it (here, as if)
        assert "sweep: an earlier run's output" not in text


def test_a_log_tail_reads_as_the_terminal_showed_it(tmp_path: Path) -> None:
    """tqdm redraws its bar with carriage returns: read as line ends, one epoch's frames
    filled the whole tail and pushed the traceback's start out of the step summary."""
    frames = "".join(f"\r\x1b[32mEpoch 1\x1b[0m: {i:3d}%|" for i in range(101))
    log = tmp_path / "fit.log"
    log.write_bytes(
        f"=== attempt 1/1\r\n{frames}\n\x1b]0;title\x07Traceback (most recent call last):\n"
        "RuntimeError: CUDA out of memory\r\n=== exit 1 after 3.00s\n".encode()
    )
    assert tail_lines(log, 50) == [
        "=== attempt 1/1",
        "Epoch 1: 100%|",
        "Traceback (most recent call last):",
        "RuntimeError: CUDA out of memory",
        "=== exit 1 after 3.00s",
    ]
    assert last_line(log) == "RuntimeError: CUDA out of memory"  # the live view's, as before


def test_an_older_runs_report_takes_no_later_runs_log_for_its_own(tmp_path: Path) -> None:
    """Each run starts logs/<job>.log afresh: `show` of an older summary printed the
    latest run's output as that run's failure."""
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs/fit.log"
    fit = dataclasses.replace(job("fit", Status.FAILED), log_path="logs/fit.log")
    summary = RunSummary(START, "2026-03-01T09:00:01.500Z", exit_code=1, jobs=(fit,))
    log.write_text("=== attempt 1/1 · 2026-03-01T09:00:00Z · python fit.py\nits own error\n")
    assert "its own error" in markdown.render(summary, tmp_path)
    log.write_text("=== attempt 1/1 · 2026-03-01T09:00:03Z · python fit.py\na later run's\n")
    assert written_by_run(log, summary.started, summary.started + 1.5) is False
    assert "a later run's" not in markdown.render(summary, tmp_path)
