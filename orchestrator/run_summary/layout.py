"""Where a run's summaries and journals live: the names no other module spells."""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import OrchestratorError

SUMMARY_DIR = "summaries"
LATEST = "latest.json"
SUMMARY_PREFIX = "training_summary_"
JOURNAL_PREFIX = "journal_"


def summary_name(run_id: str) -> str:
    return f"{SUMMARY_PREFIX}{run_id}.json"


def journal_name(run_id: str) -> str:
    """A run's journal, beside its summary: one JSON line per event (see report/journal)."""
    return f"{JOURNAL_PREFIX}{run_id}.jsonl"


def summary_files(path: Path) -> list[Path]:
    """The summaries `path` stands for: itself, or a directory's `training_summary_*.json`
    files (its `latest.json` is a copy of the newest, so it counts only where none is)."""
    if not path.exists():
        raise OrchestratorError(f"{path}: no such file or directory")
    if not path.is_dir():
        return [path]
    stamped = sorted(path.glob(summary_name("*")))
    if stamped:
        return stamped
    if (path / LATEST).is_file():
        return [path / LATEST]
    raise OrchestratorError(f"{path}: no run summaries ({summary_name('*')}) in this directory")
