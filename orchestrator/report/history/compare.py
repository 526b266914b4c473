"""What changed from one run to another: the model `compare` builds from two summaries.

A job's status change, its metrics judged each in its own direction against a tolerance,
its resources (peak memory and CPU time, which only get worse by growing) against theirs,
and its run time; the regressions among them; and which of them a report lists. The
renderers (`compare_views`) only format what this decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.report.history.runs import jobs_by_id, run_times
from orchestrator.report.resources import JobUsage, usages_by_job
from orchestrator.report.summary import higher_is_better, ranked_metrics
from orchestrator.run_summary import JobRecord, RunSummary

ChangeKind = Literal["newly_failing", "fixed", "still_failing", "new", "removed", "unchanged"]
Verdict = Literal["better", "worse", "same"]

#: Status changes, most urgent first: the order of the status table.
KIND_ORDER: tuple[ChangeKind, ...] = (
    "newly_failing",
    "still_failing",
    "fixed",
    "new",
    "removed",
    "unchanged",
)
#: A job's run time is worth a row when it changed by more than this fraction.
DURATION_CHANGE = 0.2

Resource = Literal["peak_memory", "cpu_time"]
#: The resources compare judges, as `resource_tolerance:` names them (config/keys.py).
RESOURCES: tuple[Resource, ...] = ("peak_memory", "cpu_time")
#: Growth, as a fraction, that is a regression unless `--memory-tolerance`,
#: `--cpu-tolerance` or the job's `resource_tolerance:` say otherwise.
RESOURCE_TOLERANCE = 0.3
#: Growth smaller than this is noise whatever its fraction: an interpreter's start-up
#: taking 12 MiB more, a 0.3 s script taking 0.6 s.
NOISE_FLOOR: Mapping[Resource, float] = {"peak_memory": 50 * (1 << 20), "cpu_time": 1.0}


class _Change:
    """A figure in the base run and in the head run, and how far it moved."""

    __slots__ = ()
    base: float
    head: float
    tolerance: float

    @property
    def delta(self) -> float:
        return self.head - self.base

    @property
    def relative(self) -> float:
        """The change as a fraction of the base; a zero base counts as tiny, not as zero."""
        return self.delta / max(abs(self.base), 1e-12)

    def beyond_tolerance(self, size: float) -> bool:
        """`size` (a relative change) over the tolerance, not just equal to it up to float
        rounding: 1.0 → 0.99 at 1% must pass as written, though its float delta is a hair
        over."""
        return size > self.tolerance and not math.isclose(size, self.tolerance, rel_tol=1e-9)


@dataclass(frozen=True, slots=True)
class MetricChange(_Change):
    """One metric of one job in both runs, judged in the metric's own direction."""

    job: str
    metric: str
    base: float
    head: float
    higher_is_better: bool
    tolerance: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.base) and math.isfinite(self.head)

    @property
    def verdict(self) -> Verdict:
        """A metric that became NaN or infinite is worse whatever its direction (a loss of
        -Infinity is a broken run, not a perfect one), and one that became finite again
        is better; NaN in both runs is no news."""
        if not self.finite:
            if math.isfinite(self.base):
                return "worse"
            if math.isfinite(self.head):
                return "better"
            return "same"
        if self.delta == 0:
            return "same"
        return "better" if (self.delta > 0) == self.higher_is_better else "worse"

    @property
    def regression(self) -> bool:
        """Worse by more than the tolerance (becoming non-finite always is)."""
        if not self.finite:
            return self.verdict == "worse"
        return self.verdict == "worse" and self.beyond_tolerance(abs(self.relative))


@dataclass(frozen=True, slots=True)
class ResourceChange(_Change):
    """One resource of one job in both runs (bytes or CPU seconds): more is worse."""

    job: str
    resource: Resource
    base: float
    head: float
    tolerance: float

    @property
    def noise(self) -> bool:
        """Too small a change, in absolute terms, to mean anything."""
        return abs(self.delta) < NOISE_FLOOR[self.resource]

    @property
    def regression(self) -> bool:
        """Grown by more than the tolerance and by more than the noise floor."""
        return self.beyond_tolerance(self.relative) and not self.noise

    @property
    def notable(self) -> bool:
        """Worth a row: a regression, or a change as large the other way."""
        return not self.noise and abs(self.relative) > self.tolerance


@dataclass(frozen=True, slots=True)
class JobChange:
    """One job across both runs: its status change, metric changes and run time."""

    job: str
    kind: ChangeKind
    base_status: str | None
    head_status: str | None
    optional: bool
    reason: str | None
    base_duration: float | None
    head_duration: float | None
    metrics: tuple[MetricChange, ...]
    resources: tuple[ResourceChange, ...] = ()

    @property
    def required(self) -> bool:
        """Only jobs the head run requires can regress: optional ones may fail, and a
        removed job has nothing left to fail."""
        return self.head_status is not None and not self.optional

    @property
    def duration_delta(self) -> float | None:
        if self.base_duration is None or self.head_duration is None:
            return None
        return self.head_duration - self.base_duration

    @property
    def duration_ratio(self) -> float | None:
        if not self.base_duration or self.head_duration is None:
            return None
        return self.head_duration / self.base_duration


@dataclass(frozen=True, slots=True)
class RunRef:
    started_at: str
    git_commit: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    base: RunRef
    head: RunRef
    jobs: tuple[JobChange, ...]

    @property
    def regressions(self) -> tuple[JobChange | MetricChange | ResourceChange, ...]:
        """Required jobs that newly fail, then metrics worse than tolerated, largest first,
        then resources grown more than tolerated, largest first."""
        failing = [job for job in self.jobs if job.required and job.kind == "newly_failing"]
        worse = [m for job in self.jobs if job.required for m in job.metrics if m.regression]
        grown = [r for job in self.jobs if job.required for r in job.resources if r.regression]
        return (
            *failing,
            # Metrics that stopped being numbers first: their size is no number to sort by.
            *sorted(worse, key=lambda m: (m.finite, -abs(m.relative))),
            *sorted(grown, key=lambda r: -r.relative),
        )

    @property
    def changed_statuses(self) -> list[JobChange]:
        """Jobs whose status changed, regressions first, then by urgency of the change."""
        regressions = self.regressions
        changed = [job for job in self.jobs if job.kind != "unchanged"]
        return sorted(changed, key=lambda job: (job not in regressions, KIND_ORDER.index(job.kind)))

    @property
    def changed_metrics(self) -> list[tuple[MetricChange, bool]]:
        """Changed metrics, each with whether it is a regression; regressions first."""
        regressed = [r for r in self.regressions if isinstance(r, MetricChange)]
        rest = [
            m
            for job in self.jobs
            for m in job.metrics
            if m.verdict != "same" and m not in regressed
        ]
        return [(m, True) for m in regressed] + [(m, False) for m in rest]

    @property
    def changed_resources(self) -> list[tuple[ResourceChange, bool]]:
        """Resources that changed by more than their tolerance and the noise floor, each
        with whether it is a regression; regressions first."""
        regressed = [r for r in self.regressions if isinstance(r, ResourceChange)]
        rest = [r for job in self.jobs for r in job.resources if r.notable and r not in regressed]
        return [(r, True) for r in regressed] + [(r, False) for r in rest]

    @property
    def changed_durations(self) -> list[JobChange]:
        """Jobs whose run time changed by more than `DURATION_CHANGE`."""
        return [
            job
            for job in self.jobs
            if job.duration_ratio is not None and abs(job.duration_ratio - 1) > DURATION_CHANGE
        ]


def compare(
    base: RunSummary,
    head: RunSummary,
    *,
    tolerance: float = 0.01,
    directions: Mapping[str, Mapping[str, str]] | None = None,
    tolerances: Mapping[str, Mapping[str, float]] | None = None,
    resource_tolerance: Mapping[str, float] | None = None,
    resource_tolerances: Mapping[str, Mapping[str, float]] | None = None,
) -> Comparison:
    """What changed from `base` to `head`, job by job (head's order, then removed jobs).

    `directions[job][metric]` ("higher"/"lower") overrides the guess from the metric's name;
    `tolerances[job][metric]` overrides `tolerance`, the relative worsening allowed.
    `resource_tolerance[resource]` (`RESOURCES`) is the growth allowed a resource, else
    `RESOURCE_TOLERANCE`; `resource_tolerances[job][resource]` overrides it for a job.
    """
    base_jobs, head_jobs = jobs_by_id(base), jobs_by_id(head)
    base_times, head_times = run_times(base), run_times(head)
    base_usage, head_usage = usages_by_job(base.jobs), usages_by_job(head.jobs)
    allowed: dict[str, float] = dict.fromkeys(RESOURCES, RESOURCE_TOLERANCE)
    allowed.update(resource_tolerance or {})
    ids = [*head_jobs, *(job_id for job_id in base_jobs if job_id not in head_jobs)]
    changes = []
    for job_id in ids:
        old, new = base_jobs.get(job_id), head_jobs.get(job_id)
        record = new or base_jobs[job_id]
        changes.append(
            JobChange(
                job=job_id,
                kind=change_kind(_status(old), _status(new)),
                base_status=_status(old),
                head_status=_status(new),
                optional=record.optional,
                reason=record.reason,
                base_duration=base_times.get(job_id),
                head_duration=head_times.get(job_id),
                metrics=metric_changes(
                    old,
                    new,
                    directions=(directions or {}).get(job_id, {}),
                    tolerances=(tolerances or {}).get(job_id, {}),
                    tolerance=tolerance,
                ),
                resources=resource_changes(
                    job_id,
                    base_usage.get(job_id),
                    head_usage.get(job_id),
                    {**allowed, **(resource_tolerances or {}).get(job_id, {})},
                ),
            )
        )
    return Comparison(
        base=RunRef(base.started_at, base.git_commit),
        head=RunRef(head.started_at, head.git_commit),
        jobs=tuple(changes),
    )


def _status(job: JobRecord | None) -> str | None:
    return None if job is None else job.status.value


def change_kind(base_status: str | None, head_status: str | None) -> ChangeKind:
    """Success ("ok") as the exit code counts it: succeeded, cached or reused."""
    if base_status is None:
        return "new"
    if head_status is None:
        return "removed"
    was, now = Status(base_status).ok, Status(head_status).ok
    if was and not now:
        return "newly_failing"
    if now and not was:
        return "fixed"
    return "unchanged" if now else "still_failing"


def metric_changes(
    base: JobRecord | None,
    head: JobRecord | None,
    *,
    directions: Mapping[str, str],
    tolerances: Mapping[str, float],
    tolerance: float,
) -> tuple[MetricChange, ...]:
    """Metrics both runs have, headline first; spreads and counts are left out."""
    if base is None or head is None:
        return ()
    return tuple(
        MetricChange(
            job=head.id,
            metric=name,
            base=base.metrics[name],
            head=value,
            higher_is_better=_higher(name, directions.get(name)),
            tolerance=tolerances.get(name, tolerance),
        )
        for name, value in ranked_metrics(head.metrics, head.headline)
        if name in base.metrics
    )


def resource_changes(
    job: str, base: JobUsage | None, head: JobUsage | None, tolerances: Mapping[str, float]
) -> tuple[ResourceChange, ...]:
    """The resources both runs measured for the job."""
    if base is None or head is None:
        return ()
    pairs: tuple[tuple[Resource, float | None, float | None], ...] = (
        ("peak_memory", base.peak_memory_bytes, head.peak_memory_bytes),
        ("cpu_time", base.cpu_s, head.cpu_s),
    )
    return tuple(
        ResourceChange(job, name, old, new, tolerances[name])
        for name, old, new in pairs
        if old is not None and new is not None
    )


def _higher(metric: str, direction: str | None) -> bool:
    if direction is None:
        return higher_is_better(metric)
    if direction not in {"higher", "lower"}:
        raise OrchestratorError(
            f"direction of {metric}: {direction!r}; expected 'higher' or 'lower'"
        )
    return direction == "higher"
