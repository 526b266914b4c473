"""The run `--resume` and `--rerun-failed` build on, read from its journal or summary.

A run killed before it wrote its summary still has its journal, so the newest journal is
what "latest" means; a journal also names the attempts its run left open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.decide import Leftover, PreviousRun
from orchestrator.errors import OrchestratorError
from orchestrator.models import RunOptions
from orchestrator.run_summary import (
    JOURNAL_PREFIX,
    LATEST,
    SUMMARY_DIR,
    SUMMARY_PREFIX,
    RunSummary,
    in_run_order,
    journal_name,
    load,
)


def previous_run(options: RunOptions, base: Path) -> PreviousRun | None:
    """The run to resume, named as its files are, with the attempts it left open."""
    source = options.resume if options.resume is not None else options.rerun_failed
    if source is None:
        return None
    summary_dir = base / options.output_root / SUMMARY_DIR
    path = _newest_run(summary_dir) if source in {"", "latest"} else Path(source)
    name = path.stem.removeprefix(JOURNAL_PREFIX).removeprefix(SUMMARY_PREFIX)
    try:
        if path.suffix == ".jsonl":
            summary, leftovers = _from_journal(path, name)
        else:
            summary, leftovers = load(path), ()
    except OrchestratorError as error:
        raise OrchestratorError(f"cannot resume: {error}") from None
    return PreviousRun(
        name,
        {job.id: job for job in summary.jobs},
        failures_only=options.rerun_failed is not None,
        leftovers=leftovers,
    )


def _from_journal(path: Path, name: str) -> tuple[RunSummary, tuple[Leftover, ...]]:
    """The summary a journal rebuilds, and its open attempts: a journal cut short (the
    run was killed while writing it) still gives the jobs it recorded."""
    # Only resuming reads a journal: --dry-run does not load the journal's writer for it.
    from orchestrator.report.journal import read_journal, rebuild_summary

    try:
        records = read_journal(path)
    except OSError as error:
        raise OrchestratorError(f"{path}: cannot read: {error.strerror or error}") from None
    if not any(isinstance(r, dict) and r.get("event") == "run_started" for r in records):
        raise OrchestratorError(f"{path}: not a run journal (no run_started record)")
    try:
        rebuilt = rebuild_summary(records, str(path))
        leftovers = _leftovers(records, name)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        what = f"{type(error).__name__} {error}".strip()
        raise OrchestratorError(f"{path}: not a usable journal ({what})") from None
    return rebuilt, leftovers


def _leftovers(records: list[dict[str, Any]], run: str) -> tuple[Leftover, ...]:
    from orchestrator.report.journal import open_attempts

    return tuple(
        Leftover(str(r["job"]), run, int(r["pid"]), int(r["starttime"]), r.get("boot_id"))
        for r in open_attempts(records)
        if isinstance(r.get("pid"), int) and isinstance(r.get("starttime"), int)
    )


def _newest_run(summary_dir: Path) -> Path:
    """The newest run's journal (it exists even when the run was killed), else latest.json."""
    journals = in_run_order(summary_dir.glob(journal_name("*")))
    if journals:
        return journals[-1]
    if (summary_dir / LATEST).is_file():
        return summary_dir / LATEST
    raise OrchestratorError(f"nothing to resume: no journal or {LATEST} in {summary_dir}")
