"""What the console shows of a sweep: progress and ETA in trials, trial names on running
lines, the sweep's own time. The live view is a value: fed events, rendered to text."""

from __future__ import annotations

import io
import time

import pytest
from conftest import Project
from rich.console import Console
from test_sweeps import SLEEPY, sweep_config

from orchestrator.events import AttemptStarted, JobFinished, SweepStarted
from orchestrator.execute.trial_job import trial_job
from orchestrator.models import (
    Attempt,
    JobResult,
    JobSpec,
    Plan,
    PlannedJob,
    RunOptions,
    Status,
    Sweep,
    SweepParam,
)
from orchestrator.plan import build_plan
from orchestrator.report.live import ConsoleReporter, LiveView

SWEEP = Sweep(metric="mape", n_trials=12, params=(SweepParam("lr", "float", 0.01, 0.3),))


def suite_plan() -> Plan:
    specs = [
        JobSpec(id="random_forest", command=("true",)),
        JobSpec(id="xgboost", command=("true",)),
        JobSpec(id="lightgbm_sweep", command=("true",), sweep=SWEEP),
    ]
    return build_plan(specs, RunOptions(parallel=True, max_workers=2), python="python", cpu_count=2)


def job(plan: Plan, job_id: str) -> PlannedJob:
    return next(j for j in plan.jobs if j.id == job_id)


def finished(planned: PlannedJob, seconds: float, status: Status = Status.SUCCEEDED) -> JobFinished:
    attempt = Attempt(1, time.time() - seconds, seconds, status, exit_code=0)
    return JobFinished(JobResult(planned, status, (attempt,)))


def rendered(view: LiveView) -> str:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(view._render())
    return out.getvalue()


def started(parent: PlannedJob, *, done: int, left: int, at: float) -> SweepStarted:
    return SweepStarted(parent, "lightgbm_sweep-0123456789", None, None, done, left, at)


def test_progress_and_eta_count_the_trials_that_will_really_run() -> None:
    plan = suite_plan()
    parent = job(plan, "lightgbm_sweep")
    view = LiveView(Console(file=io.StringIO()), plan, time.time())
    assert " 0/14 " in rendered(view)  # two jobs and the sweep's 12 trials
    view.sweep_started(started(parent, done=2, left=10, at=time.time()))
    assert " 0/12 " in rendered(view)  # the resumed study has 10 trials left
    view.finished(finished(job(plan, "random_forest"), 30.0).result)
    view.finished(finished(job(plan, "xgboost"), 30.0).result)
    # 10 trials left at 30 s each on 2 workers: 150 s, not the 0 s of "every job done".
    assert " 2/12 · 00:00 elapsed · ~02:30 left" in rendered(view)
    trial = trial_job(parent, "results/lightgbm_sweep_results/study-x", 3, {"lr": 0.1})
    view.finished(finished(trial, 30.0, Status.PRUNED).result)
    text = rendered(view)
    assert " 3/12 " in text
    assert "failed" not in text  # a pruned trial is the pruner's choice, not a failure
    # The sweep ends early (its timeout): only the trials that ran count from then on.
    view.finished(JobResult(parent, Status.SUCCEEDED))
    assert " 3/3 " in rendered(view)


def test_running_lines_name_each_trial() -> None:
    plan = suite_plan()
    parent = job(plan, "lightgbm_sweep")
    view = LiveView(Console(file=io.StringIO()), plan, time.time())
    for number in (3, 4):
        trial = trial_job(parent, "results/lightgbm_sweep_results/study-x", number, {"lr": 0.1})
        view.started(AttemptStarted(trial, 1, 1, time.time()))
    lines = [line.strip() for line in rendered(view).splitlines()[1:]]
    assert [line.split("  ")[0] for line in lines] == ["lightgbm_sweep #3", "lightgbm_sweep #4"]


def test_the_sweeps_own_line_shows_the_time_since_it_began(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = suite_plan()
    parent = job(plan, "lightgbm_sweep")
    reporter = ConsoleReporter(0)
    reporter.emit(started(parent, done=2, left=10, at=time.time() - 40.8))
    reporter.emit(JobFinished(JobResult(parent, Status.SUCCEEDED, reason="best mape 0.03")))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        "sweep  lightgbm_sweep: resuming study lightgbm_sweep-0123456789 (2 trials done) · "
        "10 to run"
    )
    done = lines[1].split()
    assert done[1:4] == ["done", "lightgbm_sweep", "succeeded"]
    assert 40.8 <= float(done[4].removesuffix("s")) < 60


def test_the_console_counts_a_sweeps_trials_and_its_real_time(project: Project) -> None:
    project.script("training/train_sleepy.py", SLEEPY)
    body = "metric: score\nn_trials: 3\npruner: none\nparams:\n  x: {float: [0, 1]}"
    project.config("configs/jobs.yaml", sweep_config("sleepy", body))
    result = project.run()
    assert result.returncode == 0, result.stdout
    lines = [line.split(maxsplit=1)[1] for line in result.stdout.splitlines() if "Z " in line]
    assert lines[0].startswith("running 1 sweep of up to 3 trials, 1 at a time on ")
    assert lines[1].startswith("sweep  sleepy: new study sleepy-")
    assert lines[1].endswith(" (no earlier study) · 3 to run")
    done = next(line for line in lines if line.startswith("done   sleepy "))
    # Three trials of 0.4 s one after another: the sweep took at least that, not 0.0 s.
    assert float(done.split()[3].removesuffix("s")) >= 1.2
