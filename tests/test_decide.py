"""Deciding as a value (issue 18, point 5): a plan and a history in, decisions out.

`decide` reads no file, so each case is a `History` written out whole; the cases that need
the disk (an output dir's manifest, a script's fingerprint) are in `test_decide_history`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from orchestrator.decide import Decisions, History, Leftover, PreviousRun, decide
from orchestrator.decide.cache import CacheEntry
from orchestrator.models import JobSpec, Plan, RunOptions, Status
from orchestrator.plan import build_plan
from orchestrator.run_summary import JobRecord

#: `b` needs `a`: what happens to `a` can decide `b`.
PLAN: Plan = build_plan(
    (
        JobSpec(id="a", script="train_a.py", flags=("--output-dir",)),
        JobSpec(id="b", script="train_b.py", flags=("--output-dir",), needs=("a",)),
    ),
    RunOptions(output_root="out"),
    python="py",
    cpu_count=2,
    inherited_env={},
)
PRINTS = {"a": {"script": "a1", "argv": "x"}, "b": {"script": "b1", "upstream:a": "u"}}
CACHE = {
    "a": CacheEntry("R1", PRINTS["a"], {"model.pkl": (3, 1, "h")}, {"accuracy": 0.9}),
    "b": CacheEntry("R1", PRINTS["b"], {}, {}),
}
CACHED = History(fingerprints=PRINTS, cache=CACHE)


def previous(*, failures_only: bool = False, **statuses: Status) -> PreviousRun:
    """Run R0, with each named job's status (and accuracy 0.8)."""
    records = {
        job: JobRecord(job, status, metrics={"accuracy": 0.8}) for job, status in statuses.items()
    }
    return PreviousRun("R0", records, failures_only=failures_only)


def resumed(run: PreviousRun, *, gone: frozenset[str] = frozenset()) -> History:
    return History(fingerprints=PRINTS, outputs_gone=gone, previous=run)


#: Each case: the history, what --force named, and per job (what a run does, why).
CASES: dict[str, tuple[History, tuple[str, ...], Mapping[str, tuple[str, str]]]] = {
    "no history: every job runs": (
        History(fingerprints=PRINTS),
        (),
        {"a": ("run", "no earlier success recorded"), "b": ("run", "no earlier success recorded")},
    ),
    "succeeded, same fingerprint: cached": (
        CACHED,
        (),
        {"a": ("cached", "unchanged since R1"), "b": ("cached", "unchanged since R1")},
    ),
    "a changed part is named, and what needs the job runs too": (
        History(fingerprints={**PRINTS, "a": {"script": "a2", "argv": "x"}}, cache=CACHE),
        (),
        {"a": ("run", "script changed"), "b": ("run", "upstream 'a' runs")},
    ),
    "an upstream part changed: spelled as words": (
        History(fingerprints={**PRINTS, "b": {"script": "b1", "upstream:a": "v"}}, cache=CACHE),
        (),
        {"a": ("cached", "unchanged since R1"), "b": ("run", "upstream a changed")},
    ),
    "output dir damaged: runs, saying which file": (
        History(fingerprints=PRINTS, cache=CACHE, output_damage={"a": "model.pkl modified"}),
        (),
        {"a": ("run", "output changed: model.pkl modified"), "b": ("run", "upstream 'a' runs")},
    ),
    "--force names a job": (
        CACHED,
        ("a",),
        {"a": ("run", "--force"), "b": ("run", "upstream 'a' runs")},
    ),
    "--force names the downstream job only": (
        CACHED,
        ("b",),
        {"a": ("cached", "unchanged since R1"), "b": ("run", "--force")},
    ),
    "--force '*'": (CACHED, ("*",), {"a": ("run", "--force"), "b": ("run", "--force")}),
    "--resume: a success is reused, a failure reruns": (
        resumed(previous(a=Status.SUCCEEDED, b=Status.FAILED)),
        (),
        {"a": ("reused", "succeeded in R0"), "b": ("run", "was failed in R0")},
    ),
    "--resume: a success whose output dir is gone reruns": (
        resumed(previous(a=Status.SUCCEEDED, b=Status.SUCCEEDED), gone=frozenset({"a"})),
        (),
        {
            "a": ("run", "succeeded in R0, but out/results/a_results is gone"),
            "b": ("run", "upstream 'a' runs"),
        },
    ),
    "--resume outranks --force for what the run resumed kept": (
        resumed(previous(a=Status.SUCCEEDED, b=Status.FAILED)),
        ("*",),
        {"a": ("reused", "succeeded in R0"), "b": ("run", "was failed in R0")},
    ),
    "--resume: a job new since then is decided by the cache": (
        History(fingerprints=PRINTS, cache=CACHE, previous=previous(b=Status.FAILED)),
        (),
        {"a": ("cached", "unchanged since R1"), "b": ("run", "was failed in R0")},
    ),
    "--rerun-failed: only failures run": (
        resumed(previous(a=Status.CANCELLED, b=Status.TIMED_OUT, failures_only=True)),
        (),
        {
            "a": ("skipped", "not rerun: --rerun-failed (was cancelled)"),
            "b": ("run", "was timed_out in R0"),
        },
    ),
    "--rerun-failed: a job new since then is left alone": (
        resumed(previous(a=Status.GATE_FAILED, failures_only=True)),
        (),
        {
            "a": ("run", "was gate_failed in R0"),
            "b": ("skipped", "not rerun: --rerun-failed (new job)"),
        },
    ),
}


def actions(decisions: Decisions) -> dict[str, tuple[str, str]]:
    return {
        job_id: (reused.status.value, reused.reason) for job_id, reused in decisions.reused.items()
    } | {job_id: ("run", why) for job_id, why in decisions.why_run.items()}


@pytest.mark.parametrize("case", CASES)
def test_decide(case: str) -> None:
    history, force, expected = CASES[case]
    assert actions(decide(PLAN, history, force=force)) == expected


def test_what_stands_keeps_its_metrics_and_where_it_comes_from() -> None:
    cached = decide(PLAN, CACHED).reused["a"]
    assert (cached.metrics, cached.from_run) == ((("accuracy", 0.9),), "R1")
    reused = decide(PLAN, resumed(previous(a=Status.SUCCEEDED))).reused["a"]
    assert (reused.metrics, reused.from_run) == ((("accuracy", 0.8),), "R0")


def test_a_job_that_cannot_be_cached_runs_and_says_why() -> None:
    jobs = (JobSpec(id="a", script="train_a.py", cache=False),)
    plan = build_plan(jobs, RunOptions(), python="py", cpu_count=1, inherited_env={})
    assert actions(decide(plan, CACHED)) == {"a": ("run", "cache: false")}


def test_the_fingerprints_and_the_leftovers_are_handed_on_to_the_run() -> None:
    old = Leftover("a", "R0", pid=4242, starttime=17, boot_id=None)
    run = PreviousRun("R0", {}, leftovers=(old,))
    decisions = decide(PLAN, History(fingerprints=PRINTS, previous=run))
    assert (decisions.fingerprints, decisions.leftovers) == (PRINTS, (old,))
