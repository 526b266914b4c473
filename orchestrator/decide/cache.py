"""`.train_orch/cache.json`: every job's last recorded success, read and written whole.

One file, so a plan costs one read and a run one write. It is only a cache, but it is
read back as input: an entry of the wrong shape (a hand edit, another version, a disk
error) would end the run with a traceback. So each entry is checked, and one that is not
as written is left out (its job runs). Deleting it only costs re-running.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.decide.manifests import FileRecord
from orchestrator.run_summary import NON_FINITE, decode_metric, encode_metric

STATE_DIR = ".train_orch"
CACHE_FILE = "cache.json"
ENTRY_KEYS = frozenset({"parts", "manifest", "metrics", "run_id"})


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A job's last recorded success: what it depended on, what it left, what it measured."""

    run_id: str
    #: Its fingerprint, part by part (see `fingerprints`).
    parts: Mapping[str, str]
    manifest: Mapping[str, FileRecord]
    metrics: Mapping[str, float]
    finished_at: float | None = None


Cache = Mapping[str, CacheEntry]


def load_cache(path: Path) -> tuple[dict[str, CacheEntry], list[str]]:
    """Job id -> its last recorded success, and what was wrong with the file, if anything."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError, RecursionError) as error:
        return {}, [f"ignored, unreadable ({type(error).__name__}); every job runs"]
    if not isinstance(data, dict):
        return {}, ["ignored, not a JSON object; every job runs"]
    cache: dict[str, CacheEntry] = {}
    problems: list[str] = []
    for job_id, state in data.items():
        entry, problem = _entry(state)
        if entry is None:
            problems.append(f"entry {job_id!r} ignored ({problem}); the job runs")
        else:
            cache[job_id] = entry
    return cache, problems


def cache_text(cache: Cache) -> str:
    """The file's content: non-finite metrics spelled as the summary spells them."""
    return json.dumps({job_id: _on_disk(entry) for job_id, entry in cache.items()}, allow_nan=False)


def _on_disk(entry: CacheEntry) -> dict[str, Any]:
    document: dict[str, Any] = {
        "run_id": entry.run_id,
        "parts": dict(entry.parts),
        "manifest": {rel: list(record) for rel, record in entry.manifest.items()},
        "metrics": {name: encode_metric(value) for name, value in entry.metrics.items()},
    }
    if entry.finished_at is not None:
        document["finished_at"] = entry.finished_at
    return document


def _entry(state: object) -> tuple[CacheEntry | None, str]:
    """The entry as `_on_disk` writes it; else None and why not."""
    if not isinstance(state, dict):
        return None, "not an object"
    missing = sorted(ENTRY_KEYS - state.keys())
    if missing:
        return None, f"no {', '.join(missing)}"
    wrong = next((f"{key}: {why}" for key, ok, why in ENTRY_CHECKS if not ok(state[key])), None)
    if wrong:
        return None, wrong
    finished_at = state.get("finished_at")
    return CacheEntry(
        run_id=state["run_id"],
        parts=state["parts"],
        manifest={
            rel: (size, mtime, digest) for rel, (size, mtime, digest) in state["manifest"].items()
        },
        metrics={name: _number(value) for name, value in state["metrics"].items()},
        finished_at=float(finished_at) if isinstance(finished_at, int | float) else None,
    ), ""


def _number(value: object) -> float:
    number = decode_metric(value)
    assert number is not None  # checked by _is_metrics
    return number


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_manifest(value: object) -> bool:
    return (
        isinstance(value, dict)
        and all(map(_is_inside, value))
        and all(map(_is_file_record, value.values()))
    )


def _is_inside(rel: str) -> bool:
    """A path under the output dir: an edited entry must not have us hash /etc/shadow."""
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts


def _is_file_record(record: object) -> bool:
    if not isinstance(record, list) or len(record) != 3:
        return False
    size, mtime_ns, digest = record
    numbers = all(isinstance(n, int) and not isinstance(n, bool) for n in (size, mtime_ns))
    return numbers and isinstance(digest, str)


def _is_metrics(value: object) -> bool:
    return isinstance(value, dict) and all(decode_metric(v) is not None for v in value.values())


ENTRY_CHECKS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("run_id", lambda value: isinstance(value, str), "not a string"),
    ("parts", _is_str_map, "not an object of strings"),
    ("manifest", _is_manifest, "not an object of [size, mtime_ns, digest] entries"),
    ("metrics", _is_metrics, f"not an object of numbers (or {', '.join(NON_FINITE)})"),
)
