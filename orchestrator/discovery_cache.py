"""What each script declares, kept from one run to the next: unchanged scripts are not parsed.

Parsing the scripts with `ast` was most of what `--list` did. Entries are keyed by a digest
of a script's bytes, and the whole file by the Python version (its parser decides what is a
syntax error) and by the source of `discovery.py` (which reads the flags): a changed
script, parser or reader is parsed anew. A run writes the file into `.train_orch/` when that
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

STATE_DIR = ".train_orch"
FILE_NAME = "scripts.json"


def use_kept_facts(state_dir: Path) -> None:
    """From now on, a script whose facts an earlier run kept is not parsed."""
    salt = _salt()
    if salt is not None and _is_real_dir(state_dir):
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
    kept entry could come from another reader, so nothing is kept or used."""
    try:
        reader = Path(discovery.__file__).read_bytes()
    except OSError:
        return None
    return discovery.source_digest(sys.version.encode() + b"\0" + reader)


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
    if not isinstance(entry, list) or len(entry) != 2:
        return None
    flags, error = entry
    if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
        return None
    if error is not None and not isinstance(error, str):
        return None
    return tuple(flags), error


def _write(path: Path, salt: str, parsed: dict[str, Facts]) -> None:
    """Atomically (a new temp file renamed), so a concurrent run reads the old file or this."""
    scripts = {key: [list(flags), error] for key, (flags, error) in parsed.items()}
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
