"""Which jobs a run runs, and why; which earlier results stand instead: a pure function.

A job is `cached` when its fingerprint equals that of its last recorded success and its
output dir still holds what that success wrote. `--resume` and `--rerun-failed` keep the
successes of an earlier run as `reused`. Everything `decide` knows of the disk and of
earlier runs comes in as a `History` value, read beforehand by `decide.history` (and
`orchestrator.resume`), so the same plan and history always give the same decisions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from orchestrator.decide.cache import Cache
from orchestrator.decide.fingerprints import Fingerprint, changed_part
from orchestrator.models import Plan, PlannedJob, ReusedResult, Status
from orchestrator.run_summary import JobRecord
from orchestrator.studies import identity

#: What --rerun-failed reruns; the rest of the earlier run stands.
RERUN_FAILED = frozenset({"failed", "timed_out", "out_of_memory", "gate_failed"})
#: An earlier run's results that --resume keeps.
KEPT = frozenset({"succeeded", "cached", "reused"})


@dataclass(frozen=True, slots=True)
class Leftover:
    """An attempt the resumed run's journal left open, as that run's journal recorded it."""

    job: str
    run: str
    pid: int
    starttime: int
    boot_id: str | None


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """The run `--resume`/`--rerun-failed` builds on: its name and its job records."""

    name: str
    jobs: Mapping[str, JobRecord]
    #: --rerun-failed: rerun its failures only, leave every other job alone.
    failures_only: bool = False
    #: Its attempts that may still be running (see `execute.leftovers`).
    leftovers: tuple[Leftover, ...] = ()


@dataclass(frozen=True, slots=True)
class History:
    """What `decide` knows of earlier runs and of the disk as it is now."""

    #: Every planned job's fingerprint, from its files as they are now.
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)
    #: Each job's last recorded success.
    cache: Cache = field(default_factory=dict)
    #: For a job whose fingerprint still equals its cache entry's: the first file of its
    #: output dir that is gone or differs from what that success wrote.
    output_damage: Mapping[str, str] = field(default_factory=dict)
    #: The planned jobs whose output dir is gone (looked at when resuming).
    outputs_gone: frozenset[str] = frozenset()
    previous: PreviousRun | None = None


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per job: a result that stands without running it (`reused`), or why it runs."""

    reused: Mapping[str, ReusedResult] = field(default_factory=dict)
    why_run: Mapping[str, str] = field(default_factory=dict)
    #: What each job's result depends on: recorded with its success, and what its
    #: sweep's study is valid for.
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)
    #: Attempts of the resumed run that may still be running: stopped before this run.
    leftovers: tuple[Leftover, ...] = ()
    #: The run --resume/--rerun-failed builds on (its name), e.g. to continue its MLflow run.
    resumed: str | None = None


def decide(plan: Plan, history: History, *, force: Collection[str] = ()) -> Decisions:
    """`force`: the job ids `--force` named, or `*` for every job."""
    reused: dict[str, ReusedResult] = {}
    why_run: dict[str, str] = {}
    for job in plan.jobs:  # plan order: needs come first
        kept, why = _decide_job(job, history, force)
        running_need = next((n for n in job.needs if n in why_run), None)
        if kept is not None and kept.status.ok and running_need:
            kept, why = None, f"upstream '{running_need}' runs"
        if kept is not None:
            reused[job.id] = kept
        else:
            why_run[job.id] = why
    leftovers = history.previous.leftovers if history.previous else ()
    resumed = history.previous.name if history.previous else None
    return Decisions(reused, why_run, history.fingerprints, leftovers, resumed)


def is_forced(job_id: str, force: Collection[str]) -> bool:
    """`--force` names the job (or everything): a sweep then starts a new study."""
    return "*" in force or job_id in force


def _decide_job(
    job: PlannedJob, history: History, force: Collection[str]
) -> tuple[ReusedResult | None, str]:
    if history.previous is not None:
        decided = _against_previous(job, history, history.previous)
        if decided is not None:
            return decided
    if is_forced(job.id, force):
        return None, "--force"
    if not job.cache:
        return None, "cache: false"
    if job.sweep is not None:
        return None, "a sweep resumes its study"
    return _from_cache(job, history)


def _against_previous(
    job: PlannedJob, history: History, previous: PreviousRun
) -> tuple[ReusedResult | None, str] | None:
    """What --resume/--rerun-failed decide for a job; None when the run has no say."""
    record = previous.jobs.get(job.id)
    kept = _from_previous(record, previous.name, failures_only=previous.failures_only)
    if kept is not None and kept.status.ok and job.id in history.outputs_gone:
        # What it made is gone: reusing it would hand its dependents nothing.
        return None, f"{kept.reason}, but {job.output_dir} is gone"
    if kept is not None:
        return kept, ""
    if record is not None:
        return None, f"was {record.status.value} in {previous.name}"
    return None


def _from_previous(
    record: JobRecord | None, run: str, *, failures_only: bool
) -> ReusedResult | None:
    """Keep an earlier success; under --rerun-failed, leave all but failures alone."""
    status = record.status.value if record else None
    if record is not None and status in KEPT:
        source = record.from_run or run
        return ReusedResult(
            Status.REUSED, f"succeeded in {source}", tuple(record.metrics.items()), source
        )
    if failures_only and status not in RERUN_FAILED:
        why = "not rerun: --rerun-failed" + (f" (was {status})" if status else " (new job)")
        return ReusedResult(Status.SKIPPED, why)
    return None


def _from_cache(job: PlannedJob, history: History) -> tuple[ReusedResult | None, str]:
    entry = history.cache.get(job.id)
    if entry is None:
        return None, "no earlier success recorded"
    changed = changed_part(history.fingerprints.get(job.id, {}), entry.parts)
    if changed:
        return None, f"{changed.replace(':', ' ')} changed"
    damage = history.output_damage.get(job.id)
    if damage:
        return None, f"output changed: {damage}"
    metrics = tuple(entry.metrics.items())
    return ReusedResult(Status.CACHED, f"unchanged since {entry.run_id}", metrics, entry.run_id), ""


def study_identity(job: PlannedJob, decisions: Decisions) -> dict[str, str]:
    """What a sweep's study is valid for: the sweep's definition and the job's fingerprint.

    A best value is only the best of the code and data that produced it: an edited script
    or changed `inputs:` (or argv, env, upstream) must start a new study, or the run
    reports the old best as this code's result.
    """
    assert job.sweep is not None
    return identity(job.sweep.digest, decisions.fingerprints.get(job.id, {}))
