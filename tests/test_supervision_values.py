"""The supervisor's bookkeeping as values (issue 18, point 5): no process is started.

A child's end, the cadence of looks at a group that outlives its leader, what an ended
process makes of an attempt, and when orphans are looked for; the real processes, signals
and groups are in test_supervisor.py and test_grace.py.
"""

from __future__ import annotations

import signal

import pytest

from orchestrator.execute.child import DRAIN_CHECK_FIRST, DRAIN_CHECK_MAX, Child
from orchestrator.execute.descendants import ORPHAN_CHECK_AFTER_END, ORPHAN_CHECK_EVERY
from orchestrator.execute.ending import ProcessEnd, attempt_status, why_it_ended
from orchestrator.execute.orphan_watch import OrphanWatch
from orchestrator.execute.spawn import Spawned
from orchestrator.models import Attempt, Status


def child(returncode: int, *, exited_at: float = 15.0) -> Child:
    made = Child("job", Spawned(4242), log=-1, started=10.0, grace=5.0, attempt=None)
    made.returncode = returncode
    made.exited_at = exited_at
    return made


def test_a_child_killed_by_a_signal_ends_with_that_signal() -> None:
    ended = child(-signal.SIGKILL)
    ended.timed_out = True
    assert ended.end() == ProcessEnd(None, signal.SIGKILL, 10.0, 5.0, timed_out=True)


def test_a_child_whose_group_drained_ends_when_the_group_did() -> None:
    ended = child(0)
    ended.ended_at = 17.5  # its leader exited at 15.0; the group emptied later
    assert ended.end() == ProcessEnd(0, None, 10.0, 7.5)


def test_the_first_exit_seen_is_the_one_kept() -> None:
    seen = Child("job", Spawned(4242), log=-1, started=10.0, grace=5.0, attempt=None)
    seen.saw_exit()
    first = seen.exited_at
    assert first is not None
    seen.saw_exit()  # a pidfd stays readable until the zombie is reaped
    assert seen.exited_at == first


def test_looks_at_a_draining_group_double_up_to_a_cap() -> None:
    draining = child(0)
    waits = []
    for _ in range(8):
        draining.look_again_later(now=0.0)
        assert draining.drain_check_at is not None
        waits.append(draining.drain_check_at)
    assert waits[:3] == [DRAIN_CHECK_FIRST, 2 * DRAIN_CHECK_FIRST, 4 * DRAIN_CHECK_FIRST]
    assert waits == sorted(waits)
    assert waits[-2:] == [DRAIN_CHECK_MAX, DRAIN_CHECK_MAX]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (ProcessEnd(0, None, 0.0, 1.0), Status.SUCCEEDED),
        (ProcessEnd(3, None, 0.0, 1.0), Status.FAILED),
        (ProcessEnd(None, signal.SIGTERM, 0.0, 1.0), Status.FAILED),
        (ProcessEnd(None, signal.SIGKILL, 0.0, 1.0, timed_out=True), Status.TIMED_OUT),
        (ProcessEnd(0, None, 0.0, 1.0, timed_out=True, cancelled=True), Status.CANCELLED),
    ],
)
def test_what_an_ended_process_makes_of_its_attempt(outcome: ProcessEnd, status: Status) -> None:
    assert attempt_status(outcome) is status


@pytest.mark.parametrize(
    ("status", "exit_code", "sig", "error", "words"),
    [
        (Status.FAILED, 2, None, None, "exit 2"),
        (Status.FAILED, None, signal.SIGKILL, None, "killed by SIGKILL"),
        (Status.TIMED_OUT, None, signal.SIGTERM, None, "timed out"),
        (Status.CANCELLED, None, signal.SIGTERM, None, "cancelled"),
        (Status.PRUNED, None, signal.SIGTERM, None, "pruned"),
        (
            Status.FAILED,
            127,
            None,
            "could not start: nope: No such file",
            "could not start: nope: No such file",
        ),
    ],
)
def test_an_attempt_in_words(
    status: Status, exit_code: int | None, sig: int | None, error: str | None, words: str
) -> None:
    attempt = Attempt(1, 0.0, 1.0, status, exit_code, sig, error=error)
    assert why_it_ended(attempt) == words


class NoDescendants:
    """Stands in for Descendants: the looks are counted, nothing is read or killed."""

    tag_var = "JOB"

    def __init__(self) -> None:
        self.looks = 0

    def look(self, *_: object) -> None:
        self.looks += 1


def planned(watch: OrphanWatch) -> float | None:
    return watch.next_look


def test_orphans_are_looked_for_while_jobs_run_and_soon_after_one_ends() -> None:
    fake = NoDescendants()
    watch = OrphanWatch(fake)  # type: ignore[arg-type]
    assert (fake.looks, planned(watch)) == (0, None)
    watch.running(now=100.0)
    watch.running(now=100.3)  # a second job starting does not push the look back
    assert planned(watch) == 100.0 + ORPHAN_CHECK_EVERY
    watch.look_soon(now=100.1)  # a job ended: look for its leftovers soon
    assert planned(watch) == 100.1 + ORPHAN_CHECK_AFTER_END
    watch.look_soon(now=100.12)  # a look already planned sooner stays
    assert planned(watch) == 100.1 + ORPHAN_CHECK_AFTER_END
    watch.look(now=100.2, leaders={1}, graces={1: 5.0}, groups={1})
    assert (fake.looks, planned(watch)) == (1, 100.2 + ORPHAN_CHECK_EVERY)
    watch.look(now=100.7, leaders=set(), graces={}, groups=set())
    assert (fake.looks, planned(watch)) == (2, None)  # no job runs: no look planned
