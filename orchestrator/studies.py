"""Which Optuna study a sweep uses, and where its trials write: decided without Optuna.

A study is valid only for what produced its values: the sweep's definition, the script,
its `inputs:`, argv, env and upstream (the job's fingerprint). Its name carries a digest
of all that, so a change starts a new study instead of reporting a best value that the
current code never reached; `--force` starts the next generation of the same identity.
Each study's trials write under a directory of its own, recorded in the study, so a new
study never reads an older one's `progress.jsonl` or overwrites its outputs.

The run (through Optuna) and `--dry-run` (reading the SQLite store with `sqlite3`, so it
imports no Optuna) choose the study with the same functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import Sweep

if TYPE_CHECKING:
    import sqlite3

#: Study user attributes: what the study was made from, and where its trials write.
IDENTITY_ATTR = "identity"
TRIALS_DIR_ATTR = "trials_dir"
#: Trials told FAIL only because the run stopped (or died) under them: asked again later.
INTERRUPTED = "interrupted"
STORAGE_FILE = ".train_orch/optuna.db"
#: How fingerprint parts are named when they are why a new study starts.
PART_NAMES = {"sweep": "sweep definition", "argv": "command"}


def identity(sweep_digest: str, parts: Mapping[str, str]) -> dict[str, str]:
    """What a sweep's values depend on: its definition and the job's fingerprint parts."""
    return {**parts, "sweep": sweep_digest}


def identity_key(ident: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(ident.items())).encode()).hexdigest()[:10]


@frozen_dataclass
class Choice:
    """The study a run of a sweep would use: its name, and why it is new (None: resumed)."""

    name: str
    new_because: str | None
    #: The job's newest earlier study, when this one is new.
    earlier: str | None = None


def choose(
    job_id: str,
    ident: Mapping[str, str],
    studies: Mapping[str, Mapping[str, Any]],
    *,
    forced: bool,
) -> Choice:
    """The study to use among `studies` (name -> its user attributes, oldest first).

    Resumes the newest study of this identity; starts the next generation when `forced`.
    """
    base = f"{job_id}-{identity_key(ident)}"
    generations = {n: _generation(base, n) for n in studies}
    mine = sorted((g, n) for n, g in generations.items() if g is not None)
    earlier = [n for n in studies if _of_job(job_id, n)]
    if mine and not forced:
        return Choice(mine[-1][1], None)
    name = base if not mine else f"{base}.{mine[-1][0] + 1}"
    if forced and mine:
        return Choice(name, "--force", mine[-1][1])
    if not earlier:
        return Choice(name, "no earlier study")
    last = earlier[-1]
    return Choice(name, _what_changed(ident, studies[last].get(IDENTITY_ATTR)), last)


def _generation(base: str, name: str) -> int | None:
    if name == base:
        return 1
    match = re.fullmatch(re.escape(base) + r"\.(\d+)", name)
    return int(match.group(1)) if match else None


def _of_job(job_id: str, name: str) -> bool:
    return re.fullmatch(re.escape(job_id) + r"-[0-9a-f]{10}(\.\d+)?", name) is not None


def _what_changed(ident: Mapping[str, str], recorded: object) -> str:
    if not isinstance(recorded, dict):
        return "sweep definition or code changed"
    changed = [k for k in sorted({*ident, *recorded}) if ident.get(k) != recorded.get(k)]
    if not changed:
        return "sweep definition or code changed"
    names = [PART_NAMES.get(k, k.replace(":", " ")) for k in changed[:2]]
    more = f" (+{len(changed) - 2} more)" if len(changed) > 2 else ""
    return f"{' and '.join(names)} changed{more}"


def grid_space(sweep: Sweep) -> dict[str, list[Any]]:
    return {
        p.name: list(p.choices) if p.kind == "choices" else list(range(int(p.low), int(p.high) + 1))
        for p in sweep.params
    }


def grid_size(sweep: Sweep) -> int:
    size = 1
    for values in grid_space(sweep).values():
        size *= len(values)
    return size


def trial_budget(sweep: Sweep) -> int:
    """How many trials a study of this sweep counts before it is done: a grid ends sooner."""
    if sweep.sampler == "grid":
        return min(sweep.n_trials, grid_size(sweep))
    return sweep.n_trials


def new_trials_dir(sweep_output_dir: str, study_name: str, base: Path) -> str:
    """A directory no earlier study wrote to (one may be left by a store set aside)."""
    stem = PurePath(sweep_output_dir, "study-" + study_name.rsplit("-", 1)[-1])
    candidate, number = stem, 1
    while (base / candidate).exists():
        number += 1
        candidate = stem.with_name(f"{stem.name}-{number}")
    return str(candidate)


def trial_dir(trials_dir: str, number: int) -> str:
    return str(PurePath(trials_dir, f"trial_{number}"))


def example_params(sweep: Sweep) -> dict[str, Any]:
    """Values a trial might get, for a preview: the middle of each range, the first choice."""
    params: dict[str, Any] = {}
    for param in sweep.params:
        if param.kind == "choices":
            params[param.name] = param.choices[0]
        elif param.kind == "int":
            params[param.name] = (int(param.low) + int(param.high)) // 2
        elif param.log:
            params[param.name] = float(f"{(param.low * param.high) ** 0.5:.4g}")
        else:
            params[param.name] = float(f"{(param.low + param.high) / 2:.4g}")
    return params


def search_space_text(sweep: Sweep) -> str:
    """`lr float [0.01, 0.3] log · leaves int [8, 64] · boosting gbdt|dart`."""
    parts = []
    for param in sweep.params:
        if param.kind == "choices":
            parts.append(f"{param.name} {'|'.join(param.choices)}")
        else:
            as_int = param.kind == "int"
            low, high = (int(param.low), int(param.high)) if as_int else (param.low, param.high)
            log = " log" if param.log else ""
            parts.append(f"{param.name} {param.kind} [{low:g}, {high:g}]{log}")
    return " · ".join(parts)


@frozen_dataclass
class StudyPreview:
    """What a run would do with a sweep's study, as `--dry-run` shows it."""

    choice: Choice
    done: int
    left: int
    trials_dir: str
    next_trial: int
    #: Why the store could not be read as it is (damaged, a server), if so.
    store_note: str | None = None

    def text(self) -> str:
        """`study quad-1a2b3c4d5e: new (script changed; earlier …) · 0 done, 12 to run`."""
        if self.choice.new_because is None:
            state = "resumed"
        else:
            earlier = f"; earlier {self.choice.earlier}" if self.choice.earlier else ""
            state = f"new ({self.choice.new_because}{earlier})"
        note = f" · {self.store_note}" if self.store_note else ""
        return f"study {self.choice.name}: {state} · {self.done} done, {self.left} to run{note}"


def preview_study(
    job_id: str,
    sweep: Sweep,
    ident: Mapping[str, str],
    store: Mapping[str, StoredStudy],
    *,
    output_dir: str,
    forced: bool,
    base: Path,
    store_note: str | None = None,
) -> StudyPreview:
    """The study a run would use, read from the store as it is now (nothing is written)."""
    choice = choose(job_id, ident, {n: s.attrs for n, s in store.items()}, forced=forced)
    stored = store.get(choice.name) if choice.new_because is None else None
    done = stored.counted if stored else 0
    recorded = stored.attrs.get(TRIALS_DIR_ATTR) if stored else None
    trials_dir = (
        recorded
        if isinstance(recorded, str) and recorded
        else new_trials_dir(output_dir, choice.name, base)
    )
    return StudyPreview(
        choice,
        done,
        max(0, trial_budget(sweep) - done),
        trials_dir,
        stored.trials if stored else 0,
        store_note,
    )


def read_store_for_preview(
    storage: str | None, output_root: str, base: Path
) -> tuple[dict[str, StoredStudy], str | None]:
    """The studies in the store, and a note when it cannot be read as a run would."""
    import sqlite3

    path = sqlite_path(storage, output_root, base)
    if path is None:
        return {}, f"store {storage} not read in a dry run (only SQLite is)"
    try:
        return read_store(path), None
    except sqlite3.Error:
        shown = path.relative_to(base) if path.is_relative_to(base) else path
        return {}, f"{shown} is damaged: a run sets it aside and starts new studies"


# ------------------------------------------------------------------ the store, read-only
@frozen_dataclass
class StoredStudy:
    attrs: Mapping[str, Any]
    #: Trials finished and not interrupted: what counts toward n_trials.
    counted: int
    #: Every trial, interrupted or not: the next trial's number.
    trials: int


def sqlite_path(storage: str | None, output_root: str, base: Path) -> Path | None:
    """The file of a SQLite study store; None for a server (not read in a dry run)."""
    if storage is None:
        return base / output_root / STORAGE_FILE
    if storage.startswith("sqlite:///"):
        return base / unquote(storage.removeprefix("sqlite:///"))
    return None


def read_store(path: Path) -> dict[str, StoredStudy]:
    """Every study in a SQLite store (oldest first), read with sqlite3 in read-only mode.

    Raises sqlite3.DatabaseError for a file that is not a study store.
    """
    import sqlite3  # only a dry run of a sweep needs it, not --list or the live view

    if not path.is_file():
        return {}
    # With no -wal file beside it the file is the whole store: `immutable` then reads it
    # without creating -wal/-shm files (a dry run writes nothing). With one, a run is under
    # way or died before a checkpoint, and only a WAL-aware read sees its latest trials.
    wal = path.with_name(path.name + "-wal").exists()
    mode = "mode=ro" if wal else "immutable=1"
    with sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True) as db:
        if db.execute("PRAGMA quick_check").fetchone() != ("ok",):  # as a run checks it
            raise sqlite3.DatabaseError("quick_check failed")
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'studies'").fetchone():
            return {}  # an empty file, or one Optuna has not used yet: a run adds its tables
        ids = db.execute("SELECT study_id, study_name FROM studies ORDER BY study_id").fetchall()
        return {name: _stored(db, study_id) for study_id, name in ids}


def _stored(db: sqlite3.Connection, study_id: int) -> StoredStudy:
    attrs = {}
    for key, value in db.execute(
        "SELECT key, value_json FROM study_user_attributes WHERE study_id = ?", (study_id,)
    ):
        try:
            attrs[str(key)] = json.loads(value)
        except (TypeError, ValueError):
            continue  # an attribute someone else wrote: not ours to judge
    interrupted = {
        trial
        for (trial,) in db.execute(
            "SELECT trial_id FROM trial_user_attributes WHERE key = ?", (INTERRUPTED,)
        )
    }
    states = db.execute(
        "SELECT trial_id, state FROM trials WHERE study_id = ?", (study_id,)
    ).fetchall()
    counted = sum(
        1
        for trial, state in states
        if state in {"COMPLETE", "PRUNED", "FAIL"} and trial not in interrupted
    )
    return StoredStudy(attrs, counted, len(states))
