"""The run's console lines and final table as values (issue 18, point 5): results in, the
text a person reads out, with no process started and no terminal needed."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from orchestrator.events import RunFinished, SweepStarted
from orchestrator.execute.trial_job import trial_job
from orchestrator.models import (
    Attempt,
    JobResult,
    JobSpec,
    PlannedJob,
    RunOptions,
    Status,
    Sweep,
    SweepParam,
)
from orchestrator.plan import build_plan
from orchestrator.report.final_table import (
    FINAL_TABLE_ROWS,
    _rows_worth_showing,
    final_table,
    headline,
)
from orchestrator.report.live import last_line, running_name, sweep_started_text

SWEEP = Sweep(metric="mape", n_trials=4, params=(SweepParam("lr", "float", 0.01, 0.3),))


def planned(*specs: JobSpec) -> tuple[PlannedJob, ...]:
    return build_plan(specs, RunOptions(), python="py", cpu_count=2, inherited_env={}).jobs


def result(job: PlannedJob, status: Status, seconds: float = 1.0, **fields: object) -> JobResult:
    attempt = Attempt(1, 0.0, seconds, status, exit_code=0 if status.ok else 1)
    return JobResult(job, status, (attempt,), **fields)  # type: ignore[arg-type]


RF, LEGACY, LIGHTGBM = planned(
    JobSpec(id="rf", command=("true",)),
    JobSpec(id="legacy", command=("false",), optional=True),
    JobSpec(id="lightgbm", command=("true",), sweep=SWEEP),
)


def test_a_headline_is_the_best_metric_or_why_the_job_failed() -> None:
    metrics = (("loss", 0.2), ("accuracy", 0.96123))
    assert headline(result(RF, Status.SUCCEEDED, metrics=metrics)) == "accuracy 0.9612"
    assert headline(result(LEGACY, Status.FAILED, reason="exit 1")) == "exit 1 (optional)"
    assert headline(result(RF, Status.TIMED_OUT)) == "timed_out"
    noted = result(RF, Status.SUCCEEDED, reason="metrics.json is not an object")
    assert headline(noted) == " ⚠ metrics.json is not an object"
    best = result(LIGHTGBM, Status.SUCCEEDED, metrics=(("mape", 0.02),), reason="best mape 0.02")
    assert headline(best) == "mape 0.02"  # its best trial's metrics: nothing to warn of


def test_a_running_trial_is_named_after_its_sweep() -> None:
    trial = trial_job(LIGHTGBM, "results/lightgbm_results/study-x", 3, {"lr": 0.1})
    assert trial.id == "lightgbm[trial=3]"
    assert running_name(trial) == "lightgbm #3"
    assert running_name(RF) == "rf"


def test_a_sweep_says_which_study_it_opened_and_why() -> None:
    resumed = SweepStarted(LIGHTGBM, "lightgbm-0123", None, None, 2, 2, 0.0)
    assert sweep_started_text(resumed) == (
        "sweep  lightgbm: resuming study lightgbm-0123 (2 trials done) · 2 to run"
    )
    new = replace(resumed, new_because="script changed", earlier="lightgbm-9999", done=0, left=4)
    assert sweep_started_text(new) == (
        "sweep  lightgbm: new study lightgbm-0123 (script changed; earlier lightgbm-9999)"
        " · 4 to run"
    )


def test_the_live_line_is_the_logs_last_line_but_our_headers(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("epoch 1\nepoch 2\n\n=== attempt 2/2 ===\n  \n", encoding="utf-8")
    assert last_line(log) == "epoch 2"
    assert last_line(tmp_path / "missing.log") == ""


def test_a_long_run_keeps_every_failure_and_the_first_successes() -> None:
    jobs = [replace(RF, id=f"j{n}") for n in range(FINAL_TABLE_ROWS + 10)]
    results = [result(job, Status.SUCCEEDED) for job in jobs]
    results[-1] = result(jobs[-1], Status.FAILED)
    rows = _rows_worth_showing(results)
    assert len(rows) == FINAL_TABLE_ROWS
    assert [r.job.id for r in rows] == [f"j{n}" for n in range(FINAL_TABLE_ROWS - 1)] + ["j49"]
    assert _rows_worth_showing(results[:3]) == results[:3]


def test_the_final_table_folds_trials_into_their_sweep() -> None:
    trials = [trial_job(LIGHTGBM, "results/study-x", n, {"lr": 0.1}) for n in range(2)]
    results = (
        result(RF, Status.SUCCEEDED, 4.0, metrics=(("accuracy", 0.961),)),
        result(LEGACY, Status.FAILED, 0.5, reason="exit 1"),
        *(result(trial, Status.SUCCEEDED, 2.0) for trial in trials),
        JobResult(LIGHTGBM, Status.SUCCEEDED, metrics=(("mape", 0.027),)),
    )
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    final_table(console, RunFinished(results, 0, 100.0, 141.8, "summaries/latest.json"))
    assert [line.rstrip() for line in out.getvalue().splitlines()] == [
        "",
        "job       status     tries  time  headline",
        "rf        succeeded      1  4.0s  accuracy 0.961",
        "legacy    failed         1  0.5s  exit 1 (optional)",
        "lightgbm  succeeded      2  4.0s  mape 0.027 · 2 trials",
        "",
        "2 succeeded · 1 optional failed · 41.8s · exit 0",
        "summary: summaries/latest.json",
    ]
