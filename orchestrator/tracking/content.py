"""What MLflow is told about a run and its jobs, as plain values: no MLflow here.

Params, tags and metrics are built from the orchestrator's own values, secrets masked,
and cut to the limits MLflow's stores enforce, so one odd value costs that value, not
the job's whole batch.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.models import JobResult, PlannedJob, Status
from orchestrator.secrets import redact

#: MLflow's limits (mlflow/utils/validation.py): longer keys or values are refused.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
#: log_batch takes at most 1000 items, of them at most 100 params.
BATCH_ITEMS = 1000
BATCH_PARAMS = 100
#: progress.jsonl lines read per job: a script writing a line per batch for days would
#: otherwise send millions of points for one chart.
MAX_PROGRESS_LINES = 10_000
MAX_PROGRESS_BYTES = 8 << 20
PROGRESS_FILE = "progress.jsonl"

_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")

#: Our statuses as MLflow's: cancelled and pruned were stopped on purpose (KILLED); a
#: job that never got to run (skipped) was stopped by its needs, killed as well.
_RUN_STATUS = {
    Status.SUCCEEDED: "FINISHED",
    Status.CACHED: "FINISHED",
    Status.REUSED: "FINISHED",
    Status.CANCELLED: "KILLED",
    Status.PRUNED: "KILLED",
    Status.SKIPPED: "KILLED",
}


def run_status(status: Status) -> str:
    return _RUN_STATUS.get(status, "FAILED")


def key(name: str) -> str:
    """A metric, param or tag name MLflow accepts: other characters become `_`."""
    return _BAD_KEY_CHARS.sub("_", name)[:MAX_KEY] or "_"


def job_params(job: PlannedJob) -> dict[str, str]:
    """The flags the job was given (`--epochs 5` → epochs: 5), matrix values and args
    included, as they reach the script: its own spelling, dashes kept, secrets masked.

    The values after a flag, up to the next flag, are its value (`--inputs a b` for a
    flag taking several); a flag with none is `true`. Words before any flag are `arg0`,
    `arg1`... The output dir is where, not what: left out. A flag given twice keeps its
    last value, the one argparse acts on.
    """
    params: dict[str, str] = {}
    name: str | None = None
    values: list[str] = []
    position = 0
    for token in (*_script_args(job), "--"):
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            if name is not None:
                _add(params, job, name, " ".join(values) if values else "true")
            name, values = token.lstrip("-"), []
            if "=" in name:
                name, value = name.split("=", 1)
                _add(params, job, name, value)
                name = None
        elif name is not None:
            values.append(token)
        else:
            _add(params, job, f"arg{position}", token)
            position += 1
    return params


def _add(params: dict[str, str], job: PlannedJob, name: str, value: str) -> None:
    if name and value != job.output_dir:
        params[key(name)] = redact(value, job.secrets)[:MAX_PARAM_VALUE]


def _script_args(job: PlannedJob) -> Sequence[str]:
    """The argv after the program and, for a script, the script's path."""
    argv = list(job.argv)
    if job.script and job.script in argv:
        return argv[argv.index(job.script) + 1 :]
    return argv[1:]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def job_tags(result: JobResult) -> dict[str, str]:
    """Who the job is and how it ended: status, attempts, why, the command, resources."""
    job = result.job
    tags = {
        "orchestrator.job_id": job.id,
        "orchestrator.status": result.status.value,
        "orchestrator.attempts": str(len(result.attempts)),
        "orchestrator.command": redact(shlex.join(job.argv), job.secrets),
        "orchestrator.log": job.log_path,
        "orchestrator.output_dir": job.output_dir,
        "mlflow.source.name": job.source,
    }
    if result.reason:
        tags["orchestrator.exit_reason"] = redact(result.reason, job.secrets)
    if job.tags:
        tags["orchestrator.tags"] = ",".join(job.tags)
    if job.gates:
        tags["orchestrator.gates"] = "; ".join(map(str, job.gates))
    last = result.attempts[-1] if result.attempts else None
    if last and last.exit_code is not None:
        tags["orchestrator.exit_code"] = str(last.exit_code)
    if last and last.usage:
        usage = last.usage
        figures = {
            "peak_memory_bytes": usage.peak_memory_bytes,
            "cpu_s": usage.cpu_s,
            "mean_cpu_percent": usage.mean_cpu_percent,
            "gpu_peak_memory_bytes": usage.gpu_peak_memory_bytes,
        }
        tags["orchestrator.usage.method"] = usage.method
        tags.update(
            {f"orchestrator.usage.{n}": str(v) for n, v in figures.items() if v is not None}
        )
    return {name: value[:MAX_TAG_VALUE] for name, value in tags.items()}


def trial_tags(result: JobResult, pruned: bool) -> dict[str, str]:
    """A sweep trial's state as Optuna names it, beside the job's own tags."""
    state = "PRUNED" if pruned else "COMPLETE" if result.status.ok else "FAIL"
    return {**job_tags(result), "optuna.trial_state": state}


def attempts_span(result: JobResult) -> tuple[float, float] | None:
    """From the first attempt's start to the last one's end, in seconds since the epoch."""
    if not result.attempts:
        return None
    last = result.attempts[-1]
    return result.attempts[0].started_at, last.started_at + last.duration


def final_metrics(result: JobResult) -> dict[str, float]:
    return {key(name): value for name, value in result.metrics}


def progress_points(output_dir: str, since: float) -> list[tuple[str, float, int]]:
    """`progress.jsonl`'s lines as (metric, value, step): `value` is logged as `progress`,
    any other number on the line under its own name. Lines that are not such an object
    are passed over: the file is the script's, written while it ran, maybe cut short."""
    path = Path(output_dir, PROGRESS_FILE)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_mtime < since:
            return []
        with path.open("rb") as handle:
            raw = handle.read(MAX_PROGRESS_BYTES)
    except OSError:
        return []
    points = []
    for line in raw.splitlines()[:MAX_PROGRESS_LINES]:
        points += _line_points(line)
    return points


def _line_points(line: bytes) -> list[tuple[str, float, int]]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return []
    if not isinstance(record, dict) or not isinstance(record.get("step"), int):
        return []
    step = record["step"]
    return [
        ("progress" if name == "value" else key(str(name)), float(value), step)
        for name, value in record.items()
        if name != "step"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    ]


def artifact_files(
    output_dir: str, include: Sequence[str], exclude: Sequence[str], max_bytes: int
) -> tuple[list[Path], list[str]]:
    """The output dir's files to upload, smallest first until `max_bytes`, and a note per
    thing left out. Symlinks are never followed: a job's link to /etc stays at home."""
    chosen: list[tuple[int, Path]] = []
    for path, relative in _walk(Path(output_dir)):
        if _matches(relative, include) and not _matches(relative, exclude):
            try:
                chosen.append((path.stat().st_size, path))
            except OSError:
                continue
    chosen.sort()
    kept: list[Path] = []
    notes: list[str] = []
    total = 0
    for size, path in chosen:
        if total + size > max_bytes:
            notes.append(f"{len(chosen) - len(kept)} files over the {max_bytes} byte cap")
            break
        kept.append(path)
        total += size
    return kept, notes


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not Path(folder, d).is_symlink())
        for name in sorted(files):
            path = Path(folder, name)
            if not path.is_symlink() and path.is_file():
                yield path, path.relative_to(root).as_posix()


def _matches(relative: str, globs: Iterable[str]) -> bool:
    """`**` matches any depth; a glob without `/` also matches a file's own name."""
    name = relative.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(relative, glob)
        or ("/" not in glob and fnmatch.fnmatchcase(name, glob))
        or (glob.startswith("**/") and fnmatch.fnmatchcase(relative, glob[3:]))
        for glob in globs
    )


def holds_secret(path: Path, secrets: Sequence[str]) -> bool:
    """Whether the file contains a secret's text: such a file is not uploaded (a model
    file cannot be masked without breaking it)."""
    if not secrets:
        return False
    needles = [s.encode() for s in secrets]
    keep = max(map(len, needles)) - 1
    try:
        with path.open("rb") as handle:
            carry = b""
            while block := handle.read(1 << 20):
                buffer = carry + block
                if any(n in buffer for n in needles):
                    return True
                carry = buffer[-keep:] if keep else b""
    except OSError:
        return True
    return False


def parent_tags(
    header: Mapping[str, Any], environ: Mapping[str, str], secrets: Iterable[str]
) -> dict[str, str]:
    """The orchestrator run: commit, branch, GitHub run, the options asked for."""
    tags = {"mlflow.runName": "", "orchestrator.host": str(header.get("host", ""))}
    commit = header.get("git_commit")
    if commit:
        tags["mlflow.source.git.commit"] = str(commit)
        tags["orchestrator.git_commit"] = str(commit)
    branch = environ.get("GITHUB_HEAD_REF") or environ.get("GITHUB_REF_NAME")
    branch = branch or header.get("git_branch")
    if branch:
        tags["mlflow.source.git.branch"] = str(branch)
    url = github_run_url(environ)
    if url:
        tags["orchestrator.github_run"] = url
    options = header.get("options", {})
    asked = {name: value for name, value in options.items() if value not in (None, (), [], False)}
    tags["orchestrator.options"] = redact(json.dumps(asked, default=str), tuple(secrets))
    return {name: value[:MAX_TAG_VALUE] for name, value in tags.items() if value}


def github_run_url(environ: Mapping[str, str]) -> str | None:
    parts = [environ.get(n) for n in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts):
        return None
    server, repository, run = parts
    return f"{server}/{repository}/actions/runs/{run}"


def verdict_tags(results: Sequence[JobResult], exit_code: int) -> dict[str, str]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    verdict = "passed" if exit_code == 0 else "interrupted" if exit_code >= 128 else "failed"
    return {
        "orchestrator.verdict": verdict,
        "orchestrator.exit_code": str(exit_code),
        "orchestrator.counts": " · ".join(f"{n} {s}" for s, n in sorted(counts.items())),
    }


def parent_status(exit_code: int) -> str:
    return "FINISHED" if exit_code == 0 else "KILLED" if exit_code >= 128 else "FAILED"


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
