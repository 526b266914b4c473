"""What each job used over all its attempts, as every summary report shows it.

One job's figures come from its attempts' `usage` (a sweep's from its trials'): the most
memory any attempt held, the CPU time they all burnt, and that CPU time over the wall
time of the attempts that measured it. The step summary, `show`, `compare` and `trend`
all take their figures from here, so a job's "peak memory" is one number everywhere.

A summary is input: one edited by hand, or written by a broken meter, may hold a figure
no machine produces (negative, NaN, past 8 EiB). Such a figure counts as not measured
rather than as a bar a million times longer than the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.report.summary import duration_text
from orchestrator.run_summary import AttemptRecord, JobRecord
from orchestrator.usage import Method, Usage, format_bytes

#: Larger than any machine's memory or a run's CPU seconds: a figure past it is corrupt.
MAX_FIGURE = float(1 << 63)


@dataclass(frozen=True, slots=True)
class JobUsage:
    """A job's resources over its attempts; None where no attempt measured that figure."""

    peak_memory_bytes: int | None
    cpu_s: float | None
    cpu_percent: float | None
    gpu_peak_memory_bytes: int | None
    #: How the attempts' peaks were measured (`usage.Method`), each once, in order met.
    methods: tuple[Method, ...]
    #: The longest wait between two samples, where sampling measured an attempt.
    sample_interval_s: float | None


def plausible(value: float | None) -> float | None:
    """The figure, or None if no real measurement could be it (negative, NaN, huge).

    Compared before anything converts it: JSON's integers have no size limit, and one of
    400 digits is more than a float can hold."""
    if value is None or not 0 <= value < MAX_FIGURE:  # NaN is never within the range
        return None
    return value


def job_usage(attempts: Iterable[AttemptRecord]) -> JobUsage | None:
    """The job's figures, or None if no attempt has a usage at all (an older summary,
    a cached job, a run off Linux that measured nothing)."""
    measured = [(a.duration_s, a.usage) for a in attempts if a.usage is not None]
    if not measured:
        return None
    return usage_over(measured)


def usage_over(measured: Sequence[tuple[float, Usage]]) -> JobUsage:
    """The figures of attempts given as (wall seconds, usage) pairs."""
    usages = [usage for _, usage in measured]
    peaks = [_whole(u.peak_memory_bytes) for u in usages]
    gpus = [_whole(u.gpu_peak_memory_bytes) for u in usages]
    timed = [(wall, plausible(u.cpu_s)) for wall, u in measured]
    cpu = [seconds for _, seconds in timed if seconds is not None]
    wall = sum(w for w, seconds in timed if seconds is not None and plausible(w) is not None)
    intervals = [plausible(u.sample_interval_s) for u in usages]
    return JobUsage(
        peak_memory_bytes=max((p for p in peaks if p is not None), default=None),
        cpu_s=sum(cpu) if cpu else None,
        cpu_percent=100 * sum(cpu) / wall if cpu and wall > 0 else None,
        gpu_peak_memory_bytes=max((g for g in gpus if g is not None), default=None),
        methods=tuple(dict.fromkeys(u.method for u in usages)),
        sample_interval_s=max((i for i in intervals if i is not None), default=None),
    )


def _whole(value: int | None) -> int | None:
    return None if plausible(value) is None else value


def memory_text(amount: int | None) -> str:
    return "" if amount is None else format_bytes(amount)


def cpu_text(usage: JobUsage) -> str:
    """`41.2s · 98%`: CPU seconds, and how many cores' worth they were of the wall time."""
    if usage.cpu_s is None:
        return ""
    return duration_text(usage.cpu_s) + (
        f" · {usage.cpu_percent:.0f}%" if usage.cpu_percent is not None else ""
    )


METHOD_TEXT = {
    "cgroup-v2": "the cgroup's charge (cgroup v2, page cache included)",
    "cgroup-v1": "the cgroup's charge (cgroup v1, page cache included)",
    "sampled": "the largest sum of the processes' PSS, sampled from /proc",
    "none": "not measured (not Linux)",
}


def methods_note(usages: Sequence[JobUsage]) -> str:
    """What "peak memory" means in this run: one line naming each method the jobs used."""
    counts: dict[Method, int] = {}
    for usage in usages:
        for method in usage.methods:
            counts[method] = counts.get(method, 0) + 1
    interval = max((u.sample_interval_s for u in usages if u.sample_interval_s), default=None)
    parts = []
    for method, count in counts.items():
        text = METHOD_TEXT[method]
        if method == "sampled" and interval is not None:
            text += f" at most {interval:.2g}s apart"
        parts.append(text if len(counts) == 1 else f"{text} for {count} job{'s' * (count != 1)}")
    return "Peak memory is " + "; ".join(parts) + "."


def usages_by_job(jobs: Sequence[JobRecord]) -> dict[str, JobUsage]:
    """Each measured job's figures by id, a sweep's trials counted in their sweep's."""
    attempts: dict[str, list[AttemptRecord]] = {}
    for job in jobs:
        sweeps = [tag.removeprefix("sweep:") for tag in job.tags if tag.startswith("sweep:")]
        attempts.setdefault(sweeps[0] if sweeps else job.id, []).extend(job.attempts)
    found = {job_id: job_usage(tries) for job_id, tries in attempts.items()}
    return {job_id: usage for job_id, usage in found.items() if usage is not None}


def resource_columns(usages: Iterable[JobUsage]) -> tuple[str, ...]:
    """The table columns a run's figures fill: none for a run that measured nothing, GPU
    memory only where a job used a GPU."""
    usages = list(usages)
    if not usages:
        return ()
    gpu = any(u.gpu_peak_memory_bytes is not None for u in usages)
    return ("peak mem", "cpu", *(("gpu mem",) if gpu else ()))


def resource_cells(usage: JobUsage | None, columns: Sequence[str]) -> list[str]:
    """A job's cells for `columns`; blank where it measured nothing (cached, not run)."""
    if usage is None:
        return [""] * len(columns)
    cells = {
        "peak mem": memory_text(usage.peak_memory_bytes),
        "cpu": cpu_text(usage),
        "gpu mem": memory_text(usage.gpu_peak_memory_bytes),
    }
    return [cells[column] for column in columns]
