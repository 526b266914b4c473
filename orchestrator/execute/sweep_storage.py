"""The study store every sweep of a run shares: opened once, set aside when damaged."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.studies import STORAGE_FILE


@dataclass(frozen=True, slots=True)
class Storage:
    """The study store every sweep of a run shares, and what happened to a damaged one."""

    url: str
    handle: Any  # optuna.storages.RDBStorage: one engine for the run, not one per sweep
    #: Set when a damaged default store was renamed aside for this run.
    set_aside: str | None = None


def open_storage(url: str | None, output_root: str) -> Storage:
    """The study store, opened once before the run starts; a bad URL is the user's error.

    A damaged default store (truncated, overwritten) is renamed aside rather than breaking
    every later sweep: deleting `.train_orch/` is always safe, so starting afresh is too.
    """
    import optuna

    set_aside = None
    if url is None:
        path = Path(output_root, STORAGE_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        set_aside = _set_aside_if_damaged(path)
        url = f"sqlite:///{path}"
    try:
        handle = optuna.storages.RDBStorage(url)
    except Exception as exc:  # sqlalchemy's errors (no such dialect, no server) vary by URL
        raise OrchestratorError(f"--optuna-storage {url}: {_first_line(exc)}") from None
    return Storage(url, handle, set_aside)


def _set_aside_if_damaged(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as db:  # WAL: readers (optuna-dashboard) never block a run
            db.execute("PRAGMA journal_mode=WAL")
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise sqlite3.DatabaseError("quick_check failed")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return None
    except sqlite3.DatabaseError:
        pass
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists() or part.is_symlink():
            part.replace(f"{aside}{suffix}")
    return str(aside)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
