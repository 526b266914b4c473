"""Each job's headline metrics, run time and resources over many runs: the model `trend`
builds.

One series per metric, one value per run, None where a run has none: the renderers
(`trend_views`) decide how to draw a gap, so no value is ever invented here.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.report.history.runs import jobs_by_id, run_times
from orchestrator.report.markdown import HEADLINE_METRICS
from orchestrator.report.resources import JobUsage, usages_by_job
from orchestrator.report.summary import ranked_metrics
from orchestrator.run_summary import JobRecord, RunSummary, parse_iso


@dataclass(frozen=True, slots=True)
class Series:
    """One value per run, None where the run has none (job absent, failed, not run)."""

    name: str
    values: tuple[float | None, ...]


#: The resource series' names: peak memory in bytes, CPU time in seconds.
PEAK_MEMORY, CPU_TIME = "peak memory", "CPU time"


@dataclass(frozen=True, slots=True)
class JobTrend:
    job: str
    metrics: tuple[Series, ...]
    durations: Series
    #: `PEAK_MEMORY` and `CPU_TIME`, where any run measured them.
    resources: tuple[Series, ...] = ()


@dataclass(frozen=True, slots=True)
class Trend:
    labels: tuple[str, ...]
    jobs: tuple[JobTrend, ...]


def trend(summaries: Sequence[RunSummary]) -> Trend:
    """Each job's headline metrics, run time and resources across `summaries`, in the
    order given (`load_summaries` gives oldest first); the newest run's jobs come first."""
    records = [jobs_by_id(summary) for summary in summaries]
    times = [run_times(summary) for summary in summaries]
    usages = [usages_by_job(summary.jobs) for summary in summaries]
    ids = dict.fromkeys(job_id for jobs in reversed(records) for job_id in jobs)
    return Trend(
        labels=run_labels([summary.started_at for summary in summaries]),
        jobs=tuple(_job_trend(job_id, records, times, usages) for job_id in ids),
    )


def _job_trend(
    job_id: str,
    records: Sequence[Mapping[str, JobRecord]],
    times: Sequence[Mapping[str, float | None]],
    usages: Sequence[Mapping[str, JobUsage]],
) -> JobTrend:
    """Metrics chosen from the job's newest record with any: the ones it is judged by now."""
    scored = [jobs[job_id] for jobs in records if job_id in jobs and jobs[job_id].metrics]
    names = (
        [n for n, _ in ranked_metrics(scored[-1].metrics, scored[-1].headline)] if scored else []
    )
    return JobTrend(
        job=job_id,
        metrics=tuple(
            Series(name, tuple(_value(jobs, job_id, name) for jobs in records))
            for name in names[:HEADLINE_METRICS]
        ),
        durations=Series("time", tuple(t.get(job_id) for t in times)),
        resources=_resources(job_id, usages),
    )


def _resources(job_id: str, usages: Sequence[Mapping[str, JobUsage]]) -> tuple[Series, ...]:
    runs = [u.get(job_id) for u in usages]
    memory = tuple(None if u is None else u.peak_memory_bytes for u in runs)
    cpu = tuple(None if u is None else u.cpu_s for u in runs)
    series = (Series(PEAK_MEMORY, tuple(map(_float, memory))), Series(CPU_TIME, cpu))
    return tuple(s for s in series if any(v is not None for v in s.values))


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


def _value(jobs: Mapping[str, JobRecord], job_id: str, metric: str) -> float | None:
    job = jobs.get(job_id)
    return job.metrics.get(metric) if job else None


def run_labels(started_at: Sequence[str]) -> tuple[str, ...]:
    """`11-26 14:05` (UTC) per run, numbered `#2`... where runs share a minute: a chart's
    x-axis needs distinct categories, or Mermaid draws two runs at one point."""
    short = [time.strftime("%m-%d %H:%M", time.gmtime(parse_iso(text))) for text in started_at]
    total, seen = Counter(short), Counter[str]()
    labels = []
    for label in short:
        seen[label] += 1
        labels.append(f"{label} #{seen[label]}" if total[label] > 1 else label)
    return tuple(labels)
