"""The commands that work on finished runs: merge shards, rebuild from a journal, compare."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from orchestrator.config import config_files, load_configs
from orchestrator.errors import OrchestratorError
from orchestrator.models import RunOptions
from orchestrator.outcome import EXIT_FAILED
from orchestrator.pipeline import CONFIG_DIR, notify_settings
from orchestrator.report import console
from orchestrator.report.history.compare import compare
from orchestrator.report.history.compare_views import compare_json, compare_markdown, print_compare
from orchestrator.report.history.runs import load_summaries
from orchestrator.report.journal import read_journal, rebuild_summary
from orchestrator.report.reports import write_reports
from orchestrator.report.summary import new_run_id, run_header
from orchestrator.run_summary import (
    JOURNAL_PREFIX,
    LATEST,
    SUMMARY_DIR,
    JobRecord,
    RunSummary,
    load,
)
from orchestrator.shards import merge_summaries


def merge_runs(
    paths: Sequence[Path],
    output_root: Path,
    expect: int | None,
    plan: Mapping[str, Sequence[str]] | None = None,
    *,
    previous: Path | None = None,
    project: Path | None = None,
) -> tuple[Path, int]:
    """Join shard summaries (files, or directories searched for latest.json) into one.

    A job's log path is kept when the log is at that path under `output_root` (the shards'
    logs/ were gathered there), else rewritten to where the shard's copy is, so summary.md
    shows the right tails and a reviewer can open the right file.
    """
    own = (output_root / SUMMARY_DIR / LATEST).resolve()  # a previous merge's output
    # A shard's results/ may hold a latest.json of its own (a checkpoint): not a summary.
    found = [
        f
        for p in paths
        for f in ([p] if p.is_file() else sorted(p.rglob(f"{SUMMARY_DIR}/{LATEST}")))
    ]
    files = [f for f in found if f.resolve() != own]
    summaries = [_with_logs_found(load(file), file.parent.parent, output_root) for file in files]
    # With a plan, shards that all died before writing anything are still a report: every
    # planned job listed as never reported.
    header = {**run_header(RunOptions(), output_root), "backend": {"name": "local"}}
    merged = merge_summaries(summaries, plan, header=header)
    expect = len(plan) if expect is None and plan is not None else expect
    if expect is not None and len(summaries) != expect:
        console.print_warning(f"expected {expect} shard summaries, found {len(summaries)}")
        merged = replace(merged, exit_code=max(merged.exit_code, EXIT_FAILED))
    summary_dir = output_root / SUMMARY_DIR
    run_id = new_run_id(summary_dir, time.time()) + "_merged"
    path = write_reports(merged, summary_dir, run_id, output_root)
    if project is not None:
        _notify_merged(merged, summary_dir, run_id, project, previous)
    return path, merged.exit_code


def _notify_merged(
    merged: RunSummary, summary_dir: Path, run_id: str, project: Path, previous: Path | None
) -> None:
    """The merged run's message, as a single run's would be; the config is the project's."""
    try:
        files, _ = config_files(project / CONFIG_DIR, (), project)
        settings = notify_settings(load_configs(files, project))
    except OrchestratorError as error:  # the merged report stands; only the message is lost
        console.print_warning(f"no notification sent: {error}")
        return
    if settings is None:
        return
    from orchestrator.notify.after_run import notify_after_run, read_previous

    before = read_previous(previous) if previous and previous.is_file() else None
    notify_after_run(settings, merged, summary_dir, run_id, project, previous=before)


def _with_logs_found(summary: RunSummary, root: Path, output_root: Path) -> RunSummary:
    """The shard's summary with each log path pointing at a log that is there: its own
    (the shards' logs/ gathered under `output_root`), else the copy beside the shard's
    summary (`root`)."""

    def found(job: JobRecord) -> JobRecord:
        log = root / job.log_path
        if log.is_file() and not (output_root / job.log_path).is_file():
            return replace(job, log_path=os.path.relpath(log, output_root))
        return job

    return replace(summary, jobs=tuple(found(job) for job in summary.jobs))


def compare_runs(
    base_paths: Sequence[Path],
    head_paths: Sequence[Path],
    *,
    tolerance: float,
    output_format: str,
    project: Path,
    resource_tolerance: Mapping[str, float] | None = None,
) -> int:
    """Print what changed between two runs (the newest summary of each side); return how
    many regressions of required jobs there are.

    Per-job `metric_directions`, `regress_tolerance` and `resource_tolerance` come from the
    config files; `resource_tolerance` here is the growth allowed each resource otherwise.
    """
    base = load_summaries(base_paths)[-1]
    head = load_summaries(head_paths)[-1]
    files, _ = config_files(project / CONFIG_DIR, (), project)
    jobs = load_configs(files, project).jobs
    comparison = compare(
        base,
        head,
        tolerance=tolerance,
        directions={
            i: j.fields["metric_directions"]
            for i, j in jobs.items()
            if "metric_directions" in j.fields
        },
        tolerances={
            i: j.fields["regress_tolerance"]
            for i, j in jobs.items()
            if "regress_tolerance" in j.fields
        },
        resource_tolerance=resource_tolerance,
        resource_tolerances={
            i: j.fields["resource_tolerance"]
            for i, j in jobs.items()
            if "resource_tolerance" in j.fields
        },
    )
    if output_format == "json":
        print(json.dumps(compare_json(comparison), indent=2))
    elif output_format == "markdown":
        print(compare_markdown(comparison), end="")
    else:
        print_compare(comparison)
    return len(comparison.regressions)


def summarize(journal: Path, output_root: Path) -> Path:
    """Rebuild a summary from a run's journal (e.g. one killed before it wrote its own)."""
    try:
        records = read_journal(journal)
        summary = rebuild_summary(records, str(journal))
    except OSError as exc:
        raise OrchestratorError(f"{journal}: cannot read: {exc.strerror or exc}") from None
    except (StopIteration, KeyError, TypeError, ValueError) as exc:
        raise OrchestratorError(f"{journal}: not a usable journal ({exc!r})") from None
    summary_dir = output_root / SUMMARY_DIR
    run_id = journal.stem.removeprefix(JOURNAL_PREFIX) + "_rebuilt"
    return write_reports(summary, summary_dir, run_id, Path.cwd())
