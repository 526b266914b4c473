"""The order jobs start in, as values (issue 18, point 5): no process, no real clock.

The queue is driven directly with times passed in; the scheduler around it is driven with
a fake backend that ends attempts when the test says, so what starts next is asserted
without a child process.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orchestrator.events import AttemptStarted, Event, JobFinished
from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.ready_queue import ReadyQueue
from orchestrator.execute.scheduler import Scheduler
from orchestrator.models import JobSpec, Plan, PlannedJob, RetryPolicy, RunOptions, Status
from orchestrator.plan import build_plan
from orchestrator.resources import Pool
from orchestrator.usage import UsageSoFar


def plan_of(
    *specs: JobSpec,
    root: str = "out",
    workers: int = 1,
    cpus: int | None = None,
    durations: dict[str, float] | None = None,
    pool: Pool | None = None,
) -> Plan:
    options = RunOptions(
        parallel=workers > 1, max_workers=workers, cpus=cpus or workers, output_root=root
    )
    return build_plan(
        specs, options, python="python3", cpu_count=workers, durations=durations, pool=pool
    )


def spec(job_id: str, **fields: object) -> JobSpec:
    return JobSpec(id=job_id, command=("true",), **fields)  # type: ignore[arg-type]


def queue_of(plan: Plan) -> ReadyQueue:
    return ReadyQueue(
        plan.jobs,
        max_workers=plan.max_workers,
        cpus=plan.cpus,
        memory=plan.memory,
        gpu_devices=plan.gpu_devices,
    )


def take_all(queue: ReadyQueue) -> list[str]:
    """Start whatever can start now, in order."""
    taken = []
    while (job := queue.next_ready()) is not None:
        queue.started(job)
        taken.append(job.id)
    return taken


def run_one_at_a_time(queue: ReadyQueue) -> list[str]:
    order = []
    while (job := queue.next_ready()) is not None:
        order.append(job.id)
        queue.finished(job.id)
    return order


def test_priority_then_longest_expected_first() -> None:
    plan = plan_of(
        spec("short"),
        spec("long"),
        spec("low", priority="low"),
        spec("high", priority="high"),
        spec("unknown"),
        durations={"short": 1.0, "long": 50.0, "low": 99.0, "high": 0.5},
    )
    assert run_one_at_a_time(queue_of(plan)) == ["high", "long", "short", "unknown", "low"]


def test_a_job_waits_for_what_it_needs() -> None:
    plan = plan_of(spec("train", needs=("prep",)), spec("prep"), spec("other"), workers=2)
    queue = queue_of(plan)
    assert take_all(queue) == ["prep", "other"]
    queue.ended("prep")
    assert queue.next_ready() is None  # ended is not finished: its result is not in yet
    queue.finished("prep")
    assert take_all(queue) == ["train"]


def test_a_smaller_job_goes_past_one_whose_cpus_do_not_fit() -> None:
    plan = plan_of(spec("a", cpus=2), spec("big", cpus=3), spec("small"), workers=3, cpus=4)
    queue = queue_of(plan)
    assert take_all(queue) == ["a", "small"]
    queue.ended("a")
    queue.finished("a")
    assert take_all(queue) == ["big"]  # first in line still: it starts once cpus free up


MIB = 1 << 20


def test_jobs_whose_memory_does_not_fit_together_wait_for_each_other() -> None:
    plan = plan_of(
        spec("a", memory=700 * MIB),
        spec("b", memory=700 * MIB),
        spec("small", memory=300 * MIB),
        spec("unsized"),
        workers=4,
        pool=Pool(memory=1024 * MIB),
    )
    queue = queue_of(plan)
    # b does not fit beside a; small (300 MiB) does; a job without `memory:` holds none.
    assert take_all(queue) == ["a", "small", "unsized"]
    queue.ended("small")
    assert take_all(queue) == []  # 700 + 700 still does not fit in 1024
    queue.ended("a")
    assert take_all(queue) == ["b"]


def test_memory_is_not_counted_without_a_pool() -> None:
    plan = plan_of(spec("a", memory=700 * MIB), spec("b", memory=700 * MIB), workers=2)
    assert plan.memory is None  # Ray counts it on its own nodes
    assert take_all(queue_of(plan)) == ["a", "b"]


def test_a_retry_holds_its_memory_again() -> None:
    plan = plan_of(
        spec("flaky", memory=600 * MIB),
        spec("other", memory=600 * MIB),
        workers=2,
        pool=Pool(memory=1000 * MIB),
    )
    queue = queue_of(plan)
    assert take_all(queue) == ["flaky"]
    flaky = queue.ended("flaky")
    queue.retry_at(0.0, flaky)
    queue.release_due_retries(now=0.0)
    assert take_all(queue) == ["flaky"]  # the retry goes first; other still does not fit


def test_a_job_taking_gpus_gets_free_devices_of_its_own_and_waits_for_them() -> None:
    plan = plan_of(
        spec("big", gpus=2.0),
        spec("small", gpus=1.0),
        spec("next", gpus=2.0),
        spec("cpu"),
        workers=4,
        pool=Pool(gpus=("0", "1", "2"), gpu_source="--gpus"),
    )
    queue = queue_of(plan)
    started = []
    while (job := queue.next_ready()) is not None:
        queue.started(job)
        started.append((job.id, job.gpu_devices, dict(job.env).get("CUDA_VISIBLE_DEVICES")))
    assert started == [
        ("big", ("0", "1"), "0,1"),
        ("small", ("2",), "2"),
        ("cpu", (), ""),  # sees no device while others hold them
    ]
    queue.ended("small")
    assert take_all(queue) == []  # one device free: next needs two
    queue.ended("big")
    job = queue.next_ready()
    assert job is not None and job.gpu_devices == ("0", "1")


def test_a_gpu_job_in_the_run_leaves_the_other_jobs_plans_as_they_were() -> None:
    """Hiding the devices is done as a job starts: in the plan it would change the job's
    fingerprint, and a cached job would run again because a GPU job joined the run."""
    alone = plan_of(spec("cpu"), workers=2).jobs[0]
    beside = plan_of(spec("cpu"), spec("gpu", gpus=1.0), workers=2, pool=Pool(gpus=("0",)))
    assert next(job for job in beside.jobs if job.id == "cpu").env == alone.env


def test_a_retry_gets_whichever_devices_are_free_then() -> None:
    plan = plan_of(
        spec("flaky", gpus=1.0),
        spec("other", gpus=1.0),
        workers=2,
        pool=Pool(gpus=("0", "1")),
    )
    queue = queue_of(plan)
    assert take_all(queue) == ["flaky", "other"]
    flaky = queue.ended("flaky")
    assert flaky.gpu_devices == ("0",)
    queue.ended("other")
    other = next(job for job in plan.jobs if job.id == "other")
    queue.started(replace(other, gpu_devices=("0",)))  # it came back on device 0
    queue.retry_at(0.0, flaky)
    queue.release_due_retries(now=0.0)
    retried = queue.next_ready()
    assert retried is not None and retried.id == "flaky"
    assert (retried.gpu_devices, dict(retried.env)["CUDA_VISIBLE_DEVICES"]) == (("1",), "1")


def test_no_more_than_max_workers_run() -> None:
    queue = queue_of(plan_of(*(spec(f"j{i}") for i in range(5)), workers=2))
    assert take_all(queue) == ["j0", "j1"]
    queue.ended("j0")
    assert take_all(queue) == ["j2"]


def test_unless_it_needs_stops_at_a_job_needing_one_just_ended() -> None:
    plan = plan_of(spec("a"), spec("b", needs=("a",)), spec("c"), workers=2)
    queue = queue_of(plan)
    assert take_all(queue) == ["a", "c"]
    queue.ended("a")
    # b comes first once a's result is recorded: nothing may start ahead of it.
    assert queue.next_ready(unless_it_needs={"a"}) is None
    queue.finished("a")
    assert queue.next_ready(unless_it_needs=set()) is not None


def test_a_retry_waits_its_backoff_then_goes_first() -> None:
    queue = queue_of(plan_of(spec("flaky"), spec("next")))
    flaky = queue.next_ready()
    assert flaky is not None
    queue.started(flaky)
    queue.ended("flaky")
    queue.retry_at(10.0 + 4.0, flaky)
    assert queue.seconds_to_next_retry(now=10.0) == 4.0
    queue.release_due_retries(now=13.9)
    assert not queue.retry_due(now=13.9)
    assert take_all(queue) == ["next"]
    queue.ended("next")
    queue.release_due_retries(now=14.0)
    assert queue.seconds_to_next_retry(now=14.0) is None
    assert take_all(queue) == ["flaky"]


def test_retries_come_due_in_time_order_then_insertion_order() -> None:
    jobs = {job.id: job for job in plan_of(spec("a"), spec("b"), spec("c")).jobs}
    queue = ReadyQueue((), max_workers=1, cpus=1)
    queue.retry_at(5.0, jobs["a"])
    queue.retry_at(3.0, jobs["b"])
    queue.retry_at(5.0, jobs["c"])
    assert queue.retry_due(now=3.0)
    assert [queue.take_retry(), queue.take_retry(), queue.take_retry()] == [
        jobs["b"],
        jobs["a"],
        jobs["c"],
    ]
    assert queue.take_retry() is None
    assert not queue


def test_trials_go_after_earlier_trials_and_before_other_jobs() -> None:
    jobs = {job.id: job for job in plan_of(*(spec(i) for i in ("x", "y", "t1", "t2"))).jobs}
    queue = ReadyQueue([jobs["x"], jobs["y"]], max_workers=1, cpus=1)
    queue.add_trials([jobs["t1"]])
    queue.add_trials([jobs["t2"]])
    assert [job.id for job in queue.waiting()] == ["t1", "t2", "x", "y"]


def test_a_closed_queue_starts_nothing_and_hands_back_what_waits() -> None:
    queue = queue_of(plan_of(spec("a"), spec("b", needs=("a",))))
    queue.closed = True
    assert queue.next_ready() is None
    assert [job.id for job in queue.dependents("a")] == ["b"]
    first = queue.take_waiting()
    assert first is not None and first.id == "a"
    assert queue.remove(queue.dependents("a")[0])
    assert queue.take_waiting() is None
    assert not queue


# ------------------------------------------------------- the scheduler, with a fake backend
class FakeBackend:
    """Attempts that end when the test's script says: each start is answered in turn."""

    def __init__(self, exits: dict[str, list[int]]) -> None:
        self.exits = exits
        self.started: list[str] = []
        self.running: set[str] = set()
        #: What ran when each job started (its last attempt).
        self.alongside: dict[str, set[str]] = {}
        self._ending: list[tuple[str, ProcessEnd]] = []

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None:
        self.alongside[job.id] = set(self.running)
        self.running.add(job.id)
        self.started.append(job.id)
        code = self.exits[job.id].pop(0) if self.exits.get(job.id) else 0
        self._ending.append((job.id, ProcessEnd(code, None, 0.0, 0.0)))

    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]:
        ended, self._ending = self._ending[:1], self._ending[1:]
        self.running.difference_update(job_id for job_id, _ in ended)
        return ended

    def wake(self) -> None:
        pass

    def stop(self, key: str) -> None:
        pass

    def cancel_all(self) -> None:
        pass

    def kill_all(self) -> None:
        pass

    def close(self) -> None:
        pass

    def usage_so_far(self) -> dict[str, UsageSoFar]:
        return {}


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def test_the_scheduler_starts_retries_needs_and_skips_in_order(tmp_path: Path) -> None:
    no_wait = RetryPolicy(delay=0.0)
    plan = plan_of(
        spec("prep", retries=1, retry=no_wait),
        spec("train", needs=("prep",)),
        spec("broken"),
        spec("report", needs=("broken",)),
        root=str(tmp_path),
    )
    (tmp_path / "logs").mkdir()  # the run makes it before the scheduler starts
    backend = FakeBackend({"prep": [1, 0], "broken": [2]})
    sink = Recorder()
    outcome = Scheduler(plan, sink, backend=backend).run()
    # The retry (no backoff here) goes before jobs not yet started; train waits for prep.
    assert backend.started == ["prep", "prep", "train", "broken"]
    statuses = {result.job.id: result.status for result in outcome.results}
    assert statuses == {
        "prep": Status.SUCCEEDED,
        "train": Status.SUCCEEDED,
        "broken": Status.FAILED,
        "report": Status.SKIPPED,
    }
    starts = [(e.job.id, e.number) for e in sink.events if isinstance(e, AttemptStarted)]
    assert starts == [("prep", 1), ("prep", 2), ("train", 1), ("broken", 1)]
    finished = [e.result.job.id for e in sink.events if isinstance(e, JobFinished)]
    assert finished.index("broken") < finished.index("report")


def test_the_scheduler_keeps_to_max_workers_and_cpus(tmp_path: Path) -> None:
    plan = plan_of(
        *(spec(f"j{i}") for i in range(4)),
        spec("big", cpus=4),
        workers=2,
        cpus=4,
        root=str(tmp_path),
    )
    (tmp_path / "logs").mkdir()
    backend = FakeBackend({})
    outcome = Scheduler(plan, Recorder(), backend=backend).run()
    assert sorted(backend.started) == ["big", "j0", "j1", "j2", "j3"]
    assert max(len(others) for others in backend.alongside.values()) == 1  # two at a time
    assert backend.alongside["big"] == set()  # it takes every cpu: it runs alone
    assert {result.status for result in outcome.results} == {Status.SUCCEEDED}
