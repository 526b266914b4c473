"""What each script declares, kept from one run to the next: unchanged scripts are not parsed.

Parsing the scripts with `ast` was most of what `--list` did. Entries are keyed by a digest
of a script's bytes and directory, and the whole file by the Python version (its parser
decides what is a syntax error) and by the source of `discovery.py` and `knobs/` (which
read the flags and knobs): a changed script, parser or reader is parsed anew. An entry
whose knobs came from config files beside the script (a Hydra tree) holds their digests,
and is taken only while they match. A run writes the file into `.train_orch/` when that
directory already exists (an earlier run made it); `--list` and `--dry-run` only read it.
Deleting it only costs parsing again. It is read as untrusted input: anything not as this
module writes it is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from pathlib import Path

from orchestrator import discovery
from orchestrator.discovery import Facts
from orchestrator.models import KNOB_NAMES, Knob

STATE_DIR = ".train_orch"
FILE_NAME = "scripts.json"


def use_kept_facts(state_dir: Path) -> None:
    """From now on, a script whose facts an earlier run kept is not parsed."""
    if not _is_real_dir(state_dir):  # no earlier run here: nothing to read, no salt to make
        return
    salt = _salt()
    if salt is not None:
        discovery.KEPT.update(_read(state_dir / FILE_NAME, salt))


def keep_facts(state_dir: Path) -> None:
    """Keep the facts of the scripts this run read, for the next: by a run only, since
    `--list` and `--dry-run` write nothing. A `state_dir` that is a symlink is left alone:
    nothing is written outside the output root."""
    salt = _salt()
    if salt is None or discovery.PARSED.keys() == discovery.KEPT.keys():
        return
    if _is_real_dir(state_dir):
        _write(state_dir / FILE_NAME, salt, discovery.PARSED)


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _salt() -> str | None:
    """None where the reader's source cannot be read (installed as a zip, say): then a
    kept entry could come from another reader, so nothing is kept or used.

    discovery.py by its content; the detectors in knobs/ by each module's name, size and
    modification time (a dozen files read and hashed on every warm --list cost more than
    the rest of reading the cache).
    """
    here = Path(discovery.__file__)
    try:
        reader = here.read_bytes()
        with os.scandir(here.parent / "knobs") as entries:
            stamps = sorted(
                f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}"
                for e in entries
                if e.name.endswith(".py")
            )
    except OSError:
        return None
    detectors = "\n".join(stamps).encode()
    return discovery.source_digest(sys.version.encode() + b"\0" + reader + b"\0" + detectors)


def _read(path: Path, salt: str) -> dict[str, Facts]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("salt") != salt:
        return {}
    scripts = data.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    return {key: facts for key, entry in scripts.items() if (facts := _facts(entry)) is not None}


def _facts(entry: object) -> Facts | None:
    if not isinstance(entry, list) or len(entry) != 6:
        return None
    flags, error, knobs, prefix, notes, deps = entry
    if not (_texts(flags) and _texts(prefix)) or not isinstance(error, str | None):
        return None
    if not isinstance(knobs, list) or not all(_is_knob(k) for k in knobs):
        return None
    if not isinstance(notes, list) or not all(_is_pair(n) and n[0] in KNOB_NAMES for n in notes):
        return None
    if not isinstance(deps, list) or not all(_is_dep(d) for d in deps):
        return None
    return Facts(
        flags=tuple(flags),
        error=error,
        knobs=tuple(Knob(*k) for k in knobs),
        args_prefix=tuple(prefix),
        notes=tuple((n[0], n[1]) for n in notes),
        deps=tuple((d[0], d[1]) for d in deps),
    )


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_knob(value: object) -> bool:
    return (
        _texts(value)
        and len(value) == 5  # type: ignore[arg-type]
        and value[0] in KNOB_NAMES  # type: ignore[index]
        and value[2] in {"flag", "override", "env"}  # type: ignore[index]
        and value[4] in {"certain", "likely"}  # type: ignore[index]
    )


def _is_pair(value: object) -> bool:
    return _texts(value) and len(value) == 2  # type: ignore[arg-type]


def _is_dep(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str | None)
    )


def _write(path: Path, salt: str, parsed: dict[str, Facts]) -> None:
    """Atomically (a new temp file renamed), so a concurrent run reads the old file or this."""
    scripts = {
        key: [
            list(f.flags),
            f.error,
            [[k.name, k.spelling, k.style, k.source, k.confidence] for k in f.knobs],
            list(f.args_prefix),
            [list(note) for note in f.notes],
            [list(dep) for dep in f.deps],
        ]
        for key, f in parsed.items()
    }
    text = json.dumps({"salt": salt, "scripts": scripts})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):  # a cache: without it, the next run parses again
            tmp.unlink()
