"""A run's sweep bookkeeping as values (issue 18, point 5): a fake driver, a fake clock."""

from __future__ import annotations

from typing import Any

from orchestrator.events import SweepStarted
from orchestrator.execute.sweep_trials import PROGRESS_POLL, SweepTrials
from orchestrator.models import JobResult, JobSpec, PlannedJob, RunOptions, Status
from orchestrator.plan import build_plan


def jobs(*ids: str) -> dict[str, PlannedJob]:
    specs = [JobSpec(id=job_id, command=("true",)) for job_id in ids]
    plan = build_plan(specs, RunOptions(), python="python3", cpu_count=1)
    return {job.id: job for job in plan.jobs}


class GivesUpOn:
    """A driver whose pruner gives up on the trials named."""

    def __init__(self, *hopeless: str) -> None:
        self.hopeless = set(hopeless)
        self.asked: list[str] = []
        self.stopped = False

    @property
    def done(self) -> bool:
        return False

    def begin(self) -> list[PlannedJob]:
        return []

    def tell(self, result: JobResult) -> list[PlannedJob]:
        return []

    def should_prune(self, job: PlannedJob) -> bool:
        self.asked.append(job.id)
        return job.id in self.hopeless

    def stop(self) -> None:
        self.stopped = True

    def announcement(self) -> SweepStarted | None:
        return None

    def outcome(self) -> tuple[Status, tuple[tuple[str, float], ...], str | None, dict[str, Any]]:
        return Status.SUCCEEDED, (), None, {}


def test_trials_belong_to_their_sweep_in_the_order_asked() -> None:
    j = jobs("sweep", "t1", "t2", "other")
    trials = SweepTrials(lambda job: GivesUpOn())
    trials.open(j["sweep"])
    trials.adopt(j["sweep"], [j["t1"]])
    trials.adopt(j["sweep"], [j["t2"]])
    assert trials.trials_of("sweep") == ("t1", "t2")
    assert trials.sweep_of("t2") == j["sweep"]
    assert trials.sweep_of("other") is None
    assert trials.trials_of("other") == ()


def test_running_trials_are_polled_at_most_every_poll_interval() -> None:
    j = jobs("sweep", "t1", "t2", "other")
    driver = GivesUpOn("t2")
    trials = SweepTrials(lambda job: driver)
    trials.open(j["sweep"])
    trials.adopt(j["sweep"], [j["t1"], j["t2"]])
    running = [j["t1"], j["t2"], j["other"]]
    assert trials.seconds_to_poll(100.0, ["other"]) is None  # no trial runs: no poll
    assert trials.to_prune(100.0, running) == ["t2"]
    assert driver.asked == ["t1", "t2"]  # a job of the plan is no trial
    wait = trials.seconds_to_poll(100.1, ["t1"])
    assert wait is not None and abs(wait - (PROGRESS_POLL - 0.1)) < 1e-9
    assert trials.to_prune(100.1, running) == []  # too soon
    assert trials.to_prune(100.0 + PROGRESS_POLL, running) == []  # t2 is pruned once
    assert trials.was_pruned("t2") and not trials.was_pruned("t1")
    trials.stop_all()
    assert driver.stopped


def test_without_a_driver_maker_sweeps_are_not_available() -> None:
    assert not SweepTrials(None).available
