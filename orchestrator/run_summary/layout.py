"""Where a run's summaries and journals live: the names no other module spells."""

from __future__ import annotations

from collections.abc import Iterable
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


def in_run_order(paths: Iterable[Path]) -> list[Path]:
    """Summaries or journals, oldest run first. A run id is its start second, suffixed `_2`,
    `_3`… for later runs in the same second, so by name alone `_10` would come before `_2`."""

    def run_order(path: Path) -> tuple[str, int]:
        run_id = (
            path.name.split(".", 1)[0].removeprefix(SUMMARY_PREFIX).removeprefix(JOURNAL_PREFIX)
        )
        stamp, _, suffix = run_id.partition("_")
        return stamp, int(suffix) if suffix.isdigit() else 1

    return sorted(paths, key=run_order)


def summary_files(path: Path) -> list[Path]:
    """The summaries `path` stands for: itself, or a directory's `training_summary_*.json`
    files (its `latest.json` is a copy of the newest, so it counts only where none is)."""
    if not path.exists():
        raise OrchestratorError(f"{path}: no such file or directory")
    if not path.is_dir():
        return [path]
    stamped = in_run_order(path.glob(summary_name("*")))
    if stamped:
        return stamped
    if (path / LATEST).is_file():
        return [path / LATEST]
    raise OrchestratorError(f"{path}: no run summaries ({summary_name('*')}) in this directory")
