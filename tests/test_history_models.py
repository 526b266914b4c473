"""The history models as values: typed summaries in, a frozen Comparison or Trend out.

No files, no rendering: what `compare` and `trend` decide, compared whole.
"""

from __future__ import annotations

import math

from orchestrator.models import Status
from orchestrator.report.history.compare import (
    Comparison,
    JobChange,
    MetricChange,
    RunRef,
    compare,
)
from orchestrator.report.history.runs import run_times
from orchestrator.report.history.trend import JobTrend, Series, Trend, trend
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary


def attempt(seconds: float, status: Status = Status.SUCCEEDED) -> AttemptRecord:
    return AttemptRecord(1, status, "2026-03-01T09:00:00.000Z", seconds)


def job(
    job_id: str,
    status: Status = Status.SUCCEEDED,
    seconds: float | None = 1.0,
    tags: tuple[str, ...] = (),
    **metrics: float,
) -> JobRecord:
    """A job that ran for `seconds` (None: it did not run, as a cached job)."""
    attempts = () if seconds is None else (attempt(seconds, status),)
    return JobRecord(job_id, status, attempts=attempts, metrics=metrics, tags=tags)


def run(started_at: str, *jobs: JobRecord, commit: str | None = None) -> RunSummary:
    return RunSummary(started_at, started_at, exit_code=0, jobs=tuple(jobs), git_commit=commit)


BASE = "2026-03-01T09:00:00.000Z"
HEAD = "2026-03-02T09:00:00.000Z"


def test_compare_is_the_whole_value() -> None:
    base = run(BASE, job("a", accuracy=0.9), job("gone"), commit="abc1234def")
    head = run(HEAD, job("a", seconds=2.0, accuracy=0.8), job("b", Status.FAILED))

    assert compare(base, head) == Comparison(
        base=RunRef(BASE, "abc1234def"),
        head=RunRef(HEAD, None),
        jobs=(
            JobChange(
                "a",
                "unchanged",
                "succeeded",
                "succeeded",
                optional=False,
                reason=None,
                base_duration=1.0,
                head_duration=2.0,
                metrics=(MetricChange("a", "accuracy", 0.9, 0.8, True, 0.01),),
            ),
            JobChange("b", "new", None, "failed", False, None, None, 1.0, ()),
            JobChange("gone", "removed", "succeeded", None, False, None, 1.0, None, ()),
        ),
    )


def test_regressions_failing_jobs_first_then_metrics_largest_first() -> None:
    base = run(BASE, job("a", rmse=10.0, accuracy=0.9), job("b"), job("c", loss=1.0))
    head = run(
        HEAD,
        job("a", rmse=11.0, accuracy=0.5),
        job("b", Status.FAILED),
        job("c", loss=math.nan),
    )

    comparison = compare(base, head)

    assert [
        (r.job, r.metric if isinstance(r, MetricChange) else r.kind) for r in comparison.regressions
    ] == [("b", "newly_failing"), ("c", "loss"), ("a", "accuracy"), ("a", "rmse")]


def test_optional_and_tolerated_changes_are_no_regressions() -> None:
    base = run(BASE, job("a", accuracy=0.9), job("opt", accuracy=0.9))
    head = run(
        HEAD,
        job("a", accuracy=0.85),
        JobRecord("opt", Status.FAILED, optional=True, metrics={"accuracy": 0.1}),
    )

    assert compare(base, head, tolerances={"a": {"accuracy": 0.1}}).regressions == ()


def test_what_a_report_lists() -> None:
    base = run(BASE, job("fixed", Status.FAILED), job("slower", accuracy=0.9), job("same"))
    head = run(
        HEAD,
        job("fixed"),
        job("slower", seconds=1.5, accuracy=0.95),
        job("same", seconds=1.1),
        job("broke", Status.FAILED),
    )

    comparison = compare(base, head)

    assert [j.job for j in comparison.changed_statuses] == ["fixed", "broke"]
    assert [(m.metric, regressed) for m, regressed in comparison.changed_metrics] == [
        ("accuracy", False)
    ]
    assert [j.job for j in comparison.changed_durations] == ["slower"]


def test_a_sweeps_trials_count_as_its_run_time() -> None:
    summary = run(
        BASE,
        job("sweep", seconds=None),
        job("sweep[0]", seconds=2.0, tags=("sweep:sweep",)),
        job("sweep[1]", seconds=3.0, tags=("sweep:sweep",)),
        job("cached", Status.CACHED, seconds=None),
    )

    assert run_times(summary) == {"sweep": 5.0, "cached": None}


def test_trend_series_newest_jobs_first_with_gaps() -> None:
    runs = [
        run("2026-03-01T09:00:00.000Z", job("old", accuracy=0.5), job("a", accuracy=0.7)),
        run("2026-03-01T09:00:30.000Z", job("a", Status.FAILED, seconds=4.0)),
        run("2026-03-02T10:30:00.000Z", job("a", seconds=2.0, accuracy=0.9, loss=0.1)),
    ]

    assert trend(runs) == Trend(
        labels=("03-01 09:00 #1", "03-01 09:00 #2", "03-02 10:30"),
        jobs=(
            JobTrend(
                "a",
                metrics=(
                    Series("accuracy", (0.7, None, 0.9)),
                    Series("loss", (None, None, 0.1)),
                ),
                durations=Series("time", (1.0, 4.0, 2.0)),
            ),
            JobTrend(
                "old",
                metrics=(Series("accuracy", (0.5, None, None)),),
                durations=Series("time", (1.0, None, None)),
            ),
        ),
    )


def test_trend_of_no_runs() -> None:
    assert trend([]) == Trend(labels=(), jobs=())
