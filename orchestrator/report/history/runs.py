"""The runs the history reports read: summaries loaded oldest first, with sweep trials
folded into their sweep, as in every other report: a dozen trial rows would bury the
news, and their time is counted as the sweep's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import OrchestratorError
from orchestrator.report.console import print_warning
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary, load, summary_files


def load_summaries(paths: Sequence[Path], *, skip_unreadable: bool = False) -> list[RunSummary]:
    """The summaries at `paths`, oldest first (a directory stands for its summaries).

    `skip_unreadable` (trend): a summary found in a directory that cannot be read is left
    out with a warning, so one odd run (a newer orchestrator's, a hand edit) among hundreds
    does not hide the trend. A file named on its own is always an error, and show and
    compare take the newest run, so for them a skipped one would silently be another run.
    """
    summaries = []
    for path in paths:
        files = summary_files(path)
        for file in files:
            try:
                summaries.append(load(file))
            except OrchestratorError as error:
                if not (skip_unreadable and path.is_dir()):
                    raise
                print_warning(f"{error} (left out)")
    if not summaries:
        raise OrchestratorError(f"{', '.join(map(str, paths))}: no readable run summary")
    return sorted(summaries, key=lambda summary: summary.started)


def jobs_by_id(summary: RunSummary) -> dict[str, JobRecord]:
    """The run's jobs by id, sweep trials left out (their sweep stands for them)."""
    return {job.id: job for job in summary.jobs if not job.is_trial}


def owner(job: JobRecord) -> str:
    """The job a record's work counts for: its sweep for a trial, else itself."""
    sweeps = [tag.removeprefix("sweep:") for tag in job.tags if tag.startswith("sweep:")]
    return sweeps[0] if sweeps else job.id


def attempts_by_job(summary: RunSummary) -> dict[str, list[AttemptRecord]]:
    """Each job's attempts, its sweep trials' included (a sweep itself runs nothing)."""
    found: dict[str, list[AttemptRecord]] = {}
    for job in summary.jobs:
        found.setdefault(owner(job), []).extend(job.attempts)
    return found


def run_times(summary: RunSummary) -> dict[str, float | None]:
    """Seconds each job ran; None when it did not run (cached, reused, skipped), so that a
    cache hit does not read as a 100% speed-up."""
    return {
        job_id: sum(attempt.duration_s for attempt in attempts) if attempts else None
        for job_id, attempts in attempts_by_job(summary).items()
    }
