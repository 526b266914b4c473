"""The JSON summary a run leaves behind, written atomically so no reader sees half of it."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import __version__
from orchestrator.models import Attempt, JobResult, RunOptions, Status
from orchestrator.secrets import redact

# run_summary (the typed records) is imported where used: --list loads this module for
# duration_text and must not pay for the records' classes.
if TYPE_CHECKING:
    from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary


@dataclasses.dataclass(frozen=True, slots=True)
class RunInfo:
    started_at: float
    ended_at: float
    exit_code: int
    interrupted_by: str | None = None


def iso(timestamp: float) -> str:
    """UTC with milliseconds: enough to draw a timeline of the run from the summary alone."""
    millis = int(timestamp * 1000) % 1000  # floor, so it never rounds up past the second
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


#: Metrics that best say "how good is it", in the order they are chosen for the headline.
HEADLINE_PREFERENCE = ("accuracy", "f1", "roc_auc", "r2", "rmse", "mae", "mape", "loss")


#: Metric names (or name parts) where smaller is better; everything else: larger is better.
LOWER_IS_BETTER = ("mae", "rmse", "mse", "mape", "loss", "error", "time", "duration")


def higher_is_better(metric: str) -> bool:
    parts = metric.lower().replace("-", "_").split("_")
    return not any(word in parts for word in LOWER_IS_BETTER)


def ranked_metrics(metrics: Mapping[str, float], headline: str | None) -> list[tuple[str, float]]:
    """Metrics most worth showing first: the job's headline, the usual quality metrics,
    then the rest; spreads (`*_std`) and counts (`n_*`) only make a table noisy."""
    names = [headline] if headline else []
    names += [n for n in HEADLINE_PREFERENCE if n != headline]
    names += [
        n for n in metrics if n not in names and not (n.endswith("_std") or n.startswith("n_"))
    ]
    return [(n, metrics[n]) for n in names if n in metrics]


def metric_text(value: float, digits: int = 4) -> str:
    """`0.9613`, or the summary's spelling of a non-finite value: every report shows it."""
    if math.isfinite(value):
        return f"{value:.{digits}g}"
    from orchestrator.run_summary import encode_metric

    return str(encode_metric(value))


def duration_text(seconds: float) -> str:
    """`4.1s`, or `12m05s` past a minute: how every report writes a duration."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def run_header(options: RunOptions, base: Path) -> dict[str, Any]:
    """What identifies a run, known before it starts (the journal records it first)."""
    import socket  # with what it imports, a cost that --list and --dry-run need not pay

    return {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "orchestrator_version": __version__,
        "git_commit": git_commit(base),
        "options": dataclasses.asdict(options),
    }


def assemble(header: Mapping[str, Any], jobs: Sequence[JobRecord], run: RunInfo) -> RunSummary:
    """The run's summary: `header` is `run_header`'s (with the backend), as the journal
    also records it; `jobs` are live (`job_record`), rebuilt from a journal, or merged."""
    from orchestrator.run_summary import RunSummary

    counts = Counter(job.status for job in jobs)
    return RunSummary(
        started_at=iso(run.started_at),
        ended_at=iso(run.ended_at),
        duration_s=round(run.ended_at - run.started_at, 3),
        exit_code=run.exit_code,
        interrupted_by=run.interrupted_by,
        host=header.get("host"),
        python=header.get("python"),
        orchestrator_version=header.get("orchestrator_version"),
        git_commit=header.get("git_commit"),
        options=header.get("options", {}),
        backend=header.get("backend", {"name": "local"}),
        counts={status.value: counts[status] for status in Status if counts[status]},
        jobs=tuple(jobs),
    )


def job_record(result: JobResult) -> JobRecord:
    """A finished job as its summary records it, secrets redacted."""
    from orchestrator.run_summary import JobRecord

    job = result.job
    return JobRecord(
        id=job.id,
        script=job.source,
        argv=tuple(redact(arg, job.secrets) for arg in job.argv),
        status=result.status,
        reason=redact(result.reason, job.secrets) if result.reason else None,
        optional=job.optional,
        tags=tuple(job.tags),
        attempts=tuple(attempt_record(a) for a in result.attempts),
        duration_s=round(sum(a.duration for a in result.attempts), 3),
        log_path=job.log_path,
        output_dir=job.output_dir,
        metrics=dict(result.metrics),
        gates=tuple(str(gate) for gate in job.gates),
        headline=job.headline,
        needs=(*job.needs, *job.needs_outside),
        from_run=result.from_run,
        sweep=dict(result.sweep) if result.sweep else None,
    )


def attempt_record(attempt: Attempt) -> AttemptRecord:
    from orchestrator.run_summary import AttemptRecord

    return AttemptRecord(
        number=attempt.number,
        status=attempt.status,
        started_at=iso(attempt.started_at),
        duration_s=round(attempt.duration, 3),
        exit_code=attempt.exit_code,
        signal=attempt.signal,
        node=attempt.node,
        error=attempt.error,
        usage=attempt.usage,
        gpu_devices=attempt.gpu_devices,
    )


def new_run_id(summary_dir: Path, started_at: float) -> str:
    """`20261125T224107Z`, suffixed when a run in the same second already took it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    run_id, suffix = stamp, 1
    while any(summary_dir.glob(f"*_{run_id}.json*")):
        suffix += 1
        run_id = f"{stamp}_{suffix}"
    return run_id


def write_summary(summary: RunSummary, summary_dir: Path, run_id: str) -> Path:
    """`training_summary_<run id>.json` plus `latest.json`, each replaced atomically."""
    from orchestrator.run_summary import LATEST, dump, summary_name

    summary_dir.mkdir(parents=True, exist_ok=True)
    path = summary_dir / summary_name(run_id)
    text = dump(summary)
    write_atomic(path, text)
    write_atomic(summary_dir / LATEST, text)
    return path


def write_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    """Write via a temp file and rename, so readers see the old file or the new, never half.

    `durable` adds an fsync (the file survives a machine crash); state that is only a
    cache skips it: it costs a disk round trip per job.
    """
    import tempfile  # with shutil, bz2 and lzma: a cost that --list and --dry-run need not pay

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes 0600; the reports are for whoever may read the output root (a CI
        # user, a web server), as the logs and the journal are: respect the umask.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def _umask() -> int:
    """The process's umask, read without setting it (os.umask would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: read it the only other way, once, early
    os.umask(mask)
    return mask


def git_commit(base: Path) -> str | None:
    """The checked-out commit, read from `.git` directly: no `git` binary, no subprocess."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    git_dir = base / ".git"
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[len("ref: ") :]
        ref_file = git_dir / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        for line in (git_dir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
