"""Plain promotion: a model that passed every gate, copied to `models/<name>/<version>/`.

Without a model registry, the output root is one: each version a directory holding the
artifact and a `model.json` (metrics, gates, commit, job, run), made under a temporary
name and renamed into place, so a reader never sees half a version; `latest` is a
relative symlink to the newest, replaced atomically. The artifact comes from a job's
output dir, which the job wrote: a symlink in it (to a key, to /etc) is refused, never
followed, and nothing is written outside the output root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from orchestrator.gates import failed_gates
from orchestrator.models import JobResult, Status
from orchestrator.run_summary import encode_metric

MODELS_DIR = "models"
LATEST = "latest"
MODEL_FILE = "model.json"
#: A model.json bigger than this was not written by us: it is no version of ours.
MODEL_FILE_CAP = 1 << 20


@dataclass(frozen=True, slots=True)
class Promotion:
    """What promotion did for one job: the version made (or found), or why none was."""

    name: str
    version: int | None = None
    #: The version's directory, as the user sees it (under the output root).
    path: str | None = None
    note: str | None = None

    def document(self) -> dict[str, Any]:
        """As the summary records it (`promotion` of a job)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @property
    def text(self) -> str:
        """`random_forest v3 → models/random_forest/3`, or why nothing was promoted."""
        if self.version is None:
            return f"nothing promoted to {self.name}: {self.note}"
        return f"{self.name} v{self.version} → {self.path}"


class _Refused(Exception):
    """Why an artifact is not promoted: it reads as a note, never as a failed run."""


def promote_all(
    results: Sequence[JobResult],
    *,
    base: Path,
    output_root: str,
    run_id: str,
    git_commit: str | None,
) -> dict[str, Promotion]:
    """A promotion (or the reason for none) for every job that asks for one."""
    done = {}
    for result in results:
        spec = result.job.promote
        if spec is None:
            continue
        try:
            done[result.job.id] = _promote(result, base, output_root, run_id, git_commit)
        except _Refused as why:
            done[result.job.id] = Promotion(spec.name, note=str(why))
        except OSError as exc:
            note = f"could not write the version: {exc.strerror or exc}"
            done[result.job.id] = Promotion(spec.name, note=note)
    return done


def _promote(
    result: JobResult, base: Path, output_root: str, run_id: str, git_commit: str | None
) -> Promotion:
    job, spec = result.job, result.job.promote
    assert spec is not None
    if result.status is Status.GATE_FAILED:
        raise _Refused(f"gate failed: {result.reason}")
    if not result.status.ok:
        raise _Refused(f"the job did not succeed ({result.status.value})")
    metrics = dict(result.metrics)
    failures = failed_gates(job.gates, metrics)
    if failures:
        raise _Refused(f"gate failed: {'; '.join(failures)}")
    source = _artifact(base / job.output_dir, spec.artifact)
    models = _own_dir(base / output_root, MODELS_DIR)
    folder = _own_dir(models, spec.name)
    origin = result.from_run or run_id  # a resumed or cached result keeps its own run
    shown = PurePath(output_root, MODELS_DIR, spec.name)
    versions = _versions(folder)
    for version, document in versions.items():
        if document.get("run_id") == origin and document.get("job") == job.id:
            return Promotion(spec.name, version, str(shown / str(version)), "already promoted")
    version = max(versions, default=0) + 1
    record = {
        "name": spec.name,
        "version": version,
        "job": job.id,
        "run_id": origin,
        "git_commit": git_commit,
        "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": PurePosixPath(spec.artifact).name,
        "source": str(PurePath(job.output_dir, spec.artifact)),
        "metrics": {name: encode_metric(value) for name, value in metrics.items()},
        "gates": [str(gate) for gate in job.gates],
    }
    _place(folder, version, source, record)
    _point_latest(folder, version)
    return Promotion(spec.name, version, str(shown / str(version)))


def _artifact(output_dir: Path, artifact: str) -> Path:
    """The artifact's path, checked: every part of it below the output dir a real file or
    directory, never a symlink a job left there."""
    if output_dir.is_symlink():
        raise _Refused(f"{output_dir.name} is a symlink (to {output_dir.readlink()}): not followed")
    path = output_dir
    for part in PurePosixPath(artifact).parts:
        path /= part
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            raise _Refused(f"{artifact} not found in {output_dir.name}") from None
        if stat.S_ISLNK(mode):
            raise _Refused(f"{artifact} is a symlink (to {path.readlink()}): not followed")
    if path.is_dir():
        for inner in _tree(path):
            if inner.is_symlink() or not (inner.is_file() or inner.is_dir()):
                raise _Refused(f"{inner.relative_to(output_dir)} is a symlink or special file")
    elif not stat.S_ISREG(path.lstat().st_mode):
        raise _Refused(f"{artifact} is not a regular file")
    return path


def _tree(path: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(path):
        yield from (Path(folder, name) for name in (*dirs, *files))


def _own_dir(parent: Path, name: str) -> Path:
    """`parent/name`, made if missing; a symlink there would take the models elsewhere."""
    path = parent / name
    if path.is_symlink():
        raise _Refused(f"{name} is a symlink (to {path.readlink()}): nothing is written there")
    path.mkdir(exist_ok=True)
    return path


def _versions(folder: Path) -> dict[int, Mapping[str, Any]]:
    """Each version present, with its model.json (empty when unreadable: still taken)."""
    found: dict[int, Mapping[str, Any]] = {}
    for entry in folder.iterdir():
        if entry.name.isdigit() and entry.is_dir() and not entry.is_symlink():
            found[int(entry.name)] = _read_record(entry / MODEL_FILE)
    return found


def _read_record(path: Path) -> Mapping[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MODEL_FILE_CAP:
            document = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(document, dict):
                return document
    return {}


def _place(folder: Path, version: int, source: Path, record: dict[str, Any]) -> None:
    """The version made whole under a temporary name, then renamed into place."""
    staging = folder / f".v{version}-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()  # with the umask's modes: the models are for whoever reads the root
    try:
        target = staging / source.name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copyfile(source, target, follow_symlinks=False)
        record["sha256"] = _digests(target, staging)
        text = json.dumps(record, indent=2, allow_nan=False) + "\n"
        with (staging / MODEL_FILE).open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        staging.rename(folder / str(version))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _digests(target: Path, staging: Path) -> dict[str, str]:
    """Each copied file's SHA-256, so a deployment can check what it loads."""
    files = [target] if target.is_file() else sorted(p for p in _tree(target) if p.is_file())
    return {str(f.relative_to(staging)): _sha256(f) for f in files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _point_latest(folder: Path, version: int) -> None:
    """`latest` → the new version: a new link renamed over the old, never a moment without."""
    link = folder / f".{LATEST}.{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(str(version), target_is_directory=True)
    try:
        link.replace(folder / LATEST)
    except OSError:
        link.unlink(missing_ok=True)
        raise
