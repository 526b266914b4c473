"""A job id as file names (`logs/<name>.log`, `results/<name>_results`), and the ids
whose files would be the same files."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from orchestrator.models import JobSpec

#: Besides letters and digits (of any script) and their combining marks, what a job's
#: file name keeps; anything else becomes `_`: no `/`, NUL, space, shell or Windows
#: metacharacter, nor an invisible (format) character.
_KEPT = frozenset("_.@=+,-")
#: Longest file-name stem (UTF-8 bytes) used for a job; longer ids keep a prefix and a hash
#: of the whole id. The stem gets `_results` or `.log`, and a file name is 255 bytes at most.
MAX_NAME = 100


@functools.lru_cache(maxsize=1 << 16)  # per job it is asked for its log, dir, needs, clashes
def safe_name(job_id: str) -> str:
    """A job id as a file name: `logs/<name>.log`, `results/<name>_results`.

    No separators, no `..`, no NUL, not too long, so nothing lands outside its dir and every
    file system accepts it. Letters of any script are kept (`модель` stays `модель`), so
    ids in other alphabets do not all fold into `______`; ids that still share a name are
    refused by `mark_clashes`.
    """
    name = "".join(ch if _kept(ch) else "_" for ch in unicodedata.normalize("NFC", job_id))
    if len(name.encode()) > MAX_NAME:
        digest = hashlib.sha256(job_id.encode(errors="surrogatepass")).hexdigest()[:12]
        head = name.encode()[: MAX_NAME - 13].decode(errors="ignore")
        name = f"{head}-{digest}"
    return f"_{name}" if name.startswith(".") or not name else name


def _kept(ch: str) -> bool:
    return ch.isalnum() or ch in _KEPT or unicodedata.category(ch) in {"Mn", "Mc"}


def name_key(job_id: str) -> str:
    """What decides whether two jobs' files are the same file: their names, compared as a
    case-insensitive file system (macOS, Windows, an artifact unzipped there) compares them."""
    return unicodedata.normalize("NFC", safe_name(job_id).casefold())


def name_clashes(ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each id whose file names another id's would share → those other ids.

    Two such jobs would write one log and one results dir: interleaved output, and one
    reported with the other's metrics (passing its gates with them).
    """
    groups: dict[str, list[str]] = {}
    for job_id in ids:
        groups.setdefault(name_key(job_id), []).append(job_id)
    return {
        job_id: _without_one(group, job_id)
        for group in groups.values()
        if len(group) > 1
        for job_id in group
    }


def _without_one(group: list[str], job_id: str) -> tuple[str, ...]:
    """The others of a group: a job defined twice (a matrix combination also written as
    a job of its own) has itself among them."""
    others = list(group)
    others.remove(job_id)
    return tuple(others)


#: How a clash note starts: `--list` shows the note, a plan refuses any job carrying it.
SAME_FILES = "shares its log and results dir with"


#: A sweep's trial as a file name key: `execute/trial_job.py` names trial 3 of `sw` `sw[trial=3]`,
#: whose key is `sw_trial=3_`.
_TRIAL_KEY = re.compile(r"(.*)_trial=([0-9]+)_")


def trial_clashes(specs: Sequence[JobSpec]) -> dict[str, tuple[str, ...]]:
    """Each job whose files a sweep's trial would share → that trial's id.

    A study's trials are numbered on from one run to the next, so any number counts.
    """
    sweeps = {name_key(s.id): s.id for s in specs if s.sweep}
    clashes: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        match = _TRIAL_KEY.fullmatch(name_key(spec.id)) if sweeps else None
        sweep = sweeps.get(match.group(1)) if match else None
        if match and sweep is not None:
            clashes[spec.id] = (f"{sweep}[trial={int(match.group(2))}]",)
    return clashes


def mark_clashes(specs: Sequence[JobSpec]) -> tuple[JobSpec, ...]:
    """Each job whose file names another's would share gets a note saying with whom.

    `--list` shows it (the list is how to see what clashes); `build_plan` refuses a job
    carrying it, so a dry run or a run stops before anything starts.
    """
    clashes = {**trial_clashes(specs), **name_clashes(s.id for s in specs)}
    return tuple(
        replace(s, error=_clash_note(s.id, clashes[s.id]))
        if s.id in clashes and not is_clash(s.error)
        else s
        for s in specs
    )


def _clash_note(job_id: str, others: Sequence[str]) -> str:
    if job_id in others:
        return f"{SAME_FILES} another job of the same id"
    note = f"{SAME_FILES} {', '.join(map(repr, others))}"
    if all(safe_name(other) != safe_name(job_id) for other in others):
        note += " where case is ignored (macOS, Windows)"
    return note


def is_clash(note: str | None) -> bool:
    return bool(note and note.startswith(SAME_FILES))


def set_at(spec: JobSpec, name: str) -> tuple[str, int | None, str]:
    """Where the job's key `name` was set, as (file, line, key): in its own entry, else in
    `defaults:`, else (a value not from config) where the job was defined."""
    places = {key: (path, line) for key, path, line in spec.locations}
    if name in places:
        path, line = places[name]
        _, _, entry = defined_at(spec)
        base = entry.removesuffix(".matrix") if entry.endswith(".matrix") else entry
        return path, line, f"{base}.{name}"
    if f"defaults.{name}" in places:
        return (*places[f"defaults.{name}"], f"defaults.{name}")
    return defined_at(spec)


def defined_at(spec: JobSpec) -> tuple[str, int | None, str]:
    """Where a job's id comes from, as (file, line, key): a combination's `matrix:`, else
    the script it was discovered as, else the config entry that named it."""
    base = next((t.removeprefix("matrix:") for t in spec.tags if t.startswith("matrix:")), None)
    if base is not None and spec.id.startswith(f"{base}["):  # as `matrix_member` names it
        path, line = next(((p, n) for k, p, n in spec.locations if k == "matrix"), ("", None))
        return path or "config", line, f"jobs.{base}.matrix"
    first = spec.origin[0] if spec.origin else "config"
    config_file, _, number = first.rpartition(":")  # "configs/x.yaml:12", or a script
    if config_file and number.isdigit():
        return config_file, int(number), f"jobs.{spec.id}"
    return first, None, f"jobs.{spec.id}"
