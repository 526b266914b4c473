"""What a job's result depends on, part by part, so the part that changed can be named.

The parts: the orchestrator's major version, argv, env, the script's and the `inputs:`
files' contents, each of the project's modules the script imports (`import:<path>`), and
each upstream job's own fingerprint (so an edit reruns everything downstream of it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from orchestrator import __version__
from orchestrator.decide.cache import Cache
from orchestrator.decide.imports import local_modules
from orchestrator.decide.manifests import file_digest
from orchestrator.models import Plan, PlannedJob

MAJOR_VERSION = __version__.split(".")[0]
Fingerprint = Mapping[str, str]


def fingerprints(plan: Plan, base: Path, cache: Cache) -> dict[str, Fingerprint]:
    """Every planned job's fingerprint as its files are now (they are read and hashed)."""
    prints: dict[str, Fingerprint] = {}
    imported: dict[str, dict[str, str]] = {}  # by script: a matrix shares one
    for job in plan.jobs:  # plan order: needs come first
        prints[job.id] = fingerprint(job, base, prints, cache, imported)
    return prints


def fingerprint(
    job: PlannedJob,
    base: Path,
    known: Mapping[str, Fingerprint],
    cache: Cache,
    imported: dict[str, dict[str, str]],
) -> dict[str, str]:
    """`known`: the fingerprints of the jobs before it in the plan; `imported`: the parts
    of each script's modules, as found so far."""
    parts = {
        "orchestrator": MAJOR_VERSION,
        "argv": _digest(json.dumps(job.argv).encode()),
        "env": _digest(json.dumps(sorted(job.env)).encode()),
    }
    if job.script:
        parts["script"] = file_digest(base / job.script)
        if job.script not in imported:
            imported[job.script] = _modules(base, job.script)
        parts.update(imported[job.script])
    if job.inputs:
        parts["inputs"] = _digest(b"".join(_inputs(base, job.inputs)))
    for need in (*job.needs, *job.needs_outside):
        upstream = known.get(need)
        if upstream is None:  # outside the plan (--no-deps): what its last success used
            entry = cache.get(need)
            upstream = entry.parts if entry else {}
        parts[f"upstream:{need}"] = _digest(json.dumps(sorted(upstream.items())).encode())
    return parts


def _modules(base: Path, script: str) -> dict[str, str]:
    """`import:<path>` → digest for each module the script imports: a part of its own
    each, so the reason a job reruns names the file; none for a script that imports
    nothing of the project's, whose fingerprint stays as it was before modules counted."""
    found = local_modules(base / script)
    return {f"import:{_shown(path, base)}": file_digest(path) for path in found}


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:  # a script outside the project, named by an absolute path
        return path.as_posix()


def _inputs(base: Path, patterns: tuple[str, ...]) -> Iterator[bytes]:
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                name = path.relative_to(base).as_posix()
                yield name.encode() + b"\0" + file_digest(path).encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def changed_part(now: Fingerprint, recorded: Fingerprint) -> str | None:
    """The first part (by name) that differs, or None when the fingerprints are equal."""
    return next((k for k in sorted({*now, *recorded}) if now.get(k) != recorded.get(k)), None)
