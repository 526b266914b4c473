"""Decide, before a run, which jobs need to run at all.

A job is `cached` when nothing that could change its result has changed since its last
success (script and `inputs:` files, argv, env, the orchestrator's major version, and
what it needs) and its output dir still holds what that success wrote. `--resume` and
`--rerun-failed` keep the successes of an earlier run as `reused`. All state lives under
`.train_orch/` in the output root; deleting it only costs re-running.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from orchestrator import __version__
from orchestrator.errors import OrchestratorError
from orchestrator.events import Event, JobFinished, RunFinished
from orchestrator.execute.procfs import boot_id, start_time
from orchestrator.models import Plan, PlannedJob, ReusedResult, RunOptions, Status
from orchestrator.report.journal import open_attempts, read_journal, rebuild_summary
from orchestrator.report.summary import write_atomic
from orchestrator.run_summary import (
    LATEST,
    NON_FINITE,
    SUMMARY_DIR,
    SUMMARY_PREFIX,
    JobRecord,
    RunSummary,
    decode_metric,
    encode_metric,
    from_document,
    load,
)

STATE_DIR = ".train_orch"
#: Every job's last recorded success, one file: one read per plan, one write per run.
CACHE_FILE = "cache.json"
MAJOR_VERSION = __version__.split(".")[0]
RERUN_FAILED = frozenset({"failed", "timed_out", "gate_failed"})
KEPT = frozenset({"succeeded", "cached", "reused"})
ENTRY_KEYS = frozenset({"parts", "manifest", "metrics", "run_id"})

Cache = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per job: a result that stands (`carried`), or why it runs (`reasons`)."""

    carried: Mapping[str, ReusedResult] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    fingerprints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Attempts of the run resumed that may still be running: see `stop_leftovers`.
    leftovers: tuple[Leftover, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """The run `--resume`/`--rerun-failed` builds on: its name and its job records."""

    name: str
    jobs: Mapping[str, JobRecord]


@dataclass(frozen=True, slots=True)
class Leftover:
    """An attempt the resumed run's journal left open, as that run's journal recorded it."""

    job: str
    run: str
    pid: int
    starttime: int
    boot_id: str | None


def decide(plan: Plan, options: RunOptions, base: Path) -> Decisions:
    cache_file = PurePath(options.output_root, STATE_DIR, CACHE_FILE)  # as the user sees it
    cache, problems = load_cache(base / cache_file)
    if problems:
        from orchestrator.report import console

        for problem in problems:
            console.print_warning(f"{cache_file}: {problem}")
    previous, leftovers = _previous_jobs(options, base)
    carried: dict[str, ReusedResult] = {}
    reasons: dict[str, str] = {}
    prints: dict[str, dict[str, str]] = {}
    for job in plan.jobs:  # plan order: needs come first
        prints[job.id] = fingerprint(job, base, prints, cache)
        kept, why = _decide_job(job, options, base, previous, parts=prints[job.id], cache=cache)
        running_need = next((n for n in job.needs if n in reasons), None)
        if kept is not None and kept.status.ok and running_need:
            kept, why = None, f"upstream '{running_need}' runs"
        if kept is not None:
            carried[job.id] = kept
        else:
            reasons[job.id] = why
    return Decisions(carried, reasons, prints, leftovers)


def _decide_job(
    job: PlannedJob,
    options: RunOptions,
    base: Path,
    previous: PreviousRun | None,
    *,
    parts: Mapping[str, str],
    cache: Cache,
) -> tuple[ReusedResult | None, str]:
    if previous is not None:
        decided = _against_previous(job, options, base, previous.jobs.get(job.id), previous.name)
        if decided is not None:
            return decided
    if forced(job.id, options):
        return None, "--force"
    if not job.cache:
        return None, "cache: false"
    if job.sweep is not None:
        return None, "a sweep resumes its study"
    return _from_cache(job, base, parts, cache)


def forced(job_id: str, options: RunOptions) -> bool:
    """`--force` names the job (or everything): a sweep then starts a new study."""
    return "*" in options.force or job_id in options.force


def study_identity(job: PlannedJob, decisions: Decisions) -> dict[str, str]:
    """What a sweep's study is valid for: the sweep's definition and the job's fingerprint.

    A best value is only the best of the code and data that produced it: an edited script
    or changed `inputs:` (or argv, env, upstream) must start a new study, or the run
    reports the old best as this code's result.
    """
    from orchestrator.studies import identity

    assert job.sweep is not None
    return identity(job.sweep.digest, decisions.fingerprints.get(job.id, {}))


def _against_previous(
    job: PlannedJob, options: RunOptions, base: Path, record: JobRecord | None, run: str
) -> tuple[ReusedResult | None, str] | None:
    """What --resume/--rerun-failed decide for a job; None when the run has no say."""
    rerun_failed_only = options.rerun_failed is not None
    kept = _from_previous(record, run, rerun_failed_only=rerun_failed_only)
    if kept is not None and kept.status.ok and not (base / job.output_dir).is_dir():
        # What it made is gone: reusing it would hand its dependents nothing.
        return None, f"{kept.reason}, but {job.output_dir} is gone"
    if kept is not None:
        return kept, ""
    if record is not None:
        return None, f"was {record.status.value} in {run}"
    return None


def _from_cache(
    job: PlannedJob, base: Path, parts: Mapping[str, str], cache: Cache
) -> tuple[ReusedResult | None, str]:
    state = cache.get(job.id)
    if state is None:
        return None, "no earlier success recorded"
    recorded = state["parts"]
    changed = next(
        (k for k in sorted({*parts, *recorded}) if parts.get(k) != recorded.get(k)), None
    )
    if changed:
        return None, f"{changed.replace(':', ' ')} changed"
    damage = _manifest_damage(base / job.output_dir, state["manifest"])
    if damage:
        return None, f"output changed: {damage}"
    metrics = tuple(state["metrics"].items())
    return ReusedResult(
        Status.CACHED, f"unchanged since {state['run_id']}", metrics, state["run_id"]
    ), ""


def _from_previous(
    record: JobRecord | None, run: str, *, rerun_failed_only: bool
) -> ReusedResult | None:
    """Keep an earlier success; under --rerun-failed, leave all but failures alone."""
    status = record.status.value if record else None
    if record is not None and status in KEPT:
        source = record.from_run or run
        return ReusedResult(
            Status.REUSED, f"succeeded in {source}", tuple(record.metrics.items()), source
        )
    if rerun_failed_only and status not in RERUN_FAILED:
        why = "not rerun: --rerun-failed" + (f" (was {status})" if status else " (new job)")
        return ReusedResult(Status.SKIPPED, why)
    return None


# ---------------------------------------------------------------------- fingerprints
def fingerprint(
    job: PlannedJob, base: Path, known: Mapping[str, Mapping[str, str]], cache: Cache
) -> dict[str, str]:
    """What the job's result depends on, part by part, so a change can be named."""
    parts = {
        "orchestrator": MAJOR_VERSION,
        "argv": _digest(json.dumps(job.argv).encode()),
        "env": _digest(json.dumps(sorted(job.env)).encode()),
    }
    if job.script:
        parts["script"] = _file_digest(base / job.script)
    if job.inputs:
        parts["inputs"] = _digest(b"".join(_inputs(base, job.inputs)))
    for need in (*job.needs, *job.needs_outside):
        upstream = known.get(need)
        if upstream is None:  # outside the plan (--no-deps): what its last success used
            state = cache.get(need)
            upstream = state["parts"] if state else {}
        parts[f"upstream:{need}"] = _digest(json.dumps(sorted(upstream.items())).encode())
    return parts


def _inputs(base: Path, patterns: tuple[str, ...]) -> Iterator[bytes]:
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                name = path.relative_to(base).as_posix()
                yield name.encode() + b"\0" + _file_digest(path).encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    """The content's hash; a path that is not a regular file (a FIFO, a device) has none."""
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "not a file"
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return "missing"
    return digest.hexdigest()


# -------------------------------------------------------------------------- manifests
def manifest(output_dir: Path) -> dict[str, list[Any]]:
    """Every file a successful job left: size, mtime and content hash.

    A job's output dir is untrusted: a symlink is recorded by where it points, never
    followed (it may lead to /dev/zero, or out of the root), and a FIFO, socket or device
    is left out, since reading one may never end.
    """
    files: dict[str, list[Any]] = {}
    for root, _, names in os.walk(output_dir):
        for name in names:
            path = Path(root, name)
            entry = _entry(path)
            if entry is not None:
                files[path.relative_to(output_dir).as_posix()] = entry
    return files


def _entry(path: Path) -> list[Any] | None:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return [0, 0, f"symlink:{path.readlink()}"]
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return [info.st_size, info.st_mtime_ns, _file_digest(path)]


def _manifest_damage(output_dir: Path, recorded: Mapping[str, list[Any]]) -> str | None:
    """The first file that is gone or differs; a file with its recorded mtime is trusted."""
    for rel, (size, mtime_ns, digest) in sorted(recorded.items()):
        path = output_dir / rel
        try:
            info = path.lstat()
        except OSError:
            return f"{rel} missing"
        if stat.S_ISLNK(info.st_mode) or str(digest).startswith("symlink:"):
            if _entry(path) != [size, mtime_ns, digest]:
                return f"{rel} modified"
            continue
        if info.st_size != size:
            return f"{rel} modified"
        if info.st_mtime_ns != mtime_ns and _entry(path) != [size, info.st_mtime_ns, digest]:
            return f"{rel} modified"
    return None


def load_cache(path: Path) -> tuple[Cache, list[str]]:
    """Job id -> its last recorded success, and what was wrong with the file, if anything.

    The file is only a cache, but it is read back as trusted input: an entry of the wrong
    shape (a hand edit, another version, a disk error) would end the run with a traceback.
    So each entry is checked, and one that is not as written is left out (its job runs).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError, RecursionError) as error:
        return {}, [f"ignored, unreadable ({type(error).__name__}); every job runs"]
    if not isinstance(data, dict):
        return {}, ["ignored, not a JSON object; every job runs"]
    cache: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for job_id, state in data.items():
        entry, problem = _cache_entry(state)
        if entry is None:
            problems.append(f"entry {job_id!r} ignored ({problem}); the job runs")
        else:
            cache[job_id] = entry
    return cache, problems


def _cache_entry(state: object) -> tuple[dict[str, Any] | None, str]:
    """The entry as `StateRecorder` writes it, metrics decoded; else None and why not."""
    if not isinstance(state, dict):
        return None, "not an object"
    missing = sorted(ENTRY_KEYS - state.keys())
    if missing:
        return None, f"no {', '.join(missing)}"
    wrong = next((f"{key}: {why}" for key, ok, why in ENTRY_CHECKS if not ok(state[key])), None)
    if wrong:
        return None, wrong
    return {**state, "metrics": {k: decode_metric(v) for k, v in state["metrics"].items()}}, ""


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_manifest(value: object) -> bool:
    return (
        isinstance(value, dict)
        and all(map(_is_inside, value))
        and all(map(_is_manifest_entry, value.values()))
    )


def _is_inside(rel: str) -> bool:
    """A path under the output dir: an edited entry must not have us hash /etc/shadow."""
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts


def _is_manifest_entry(entry: object) -> bool:
    if not isinstance(entry, list) or len(entry) != 3:
        return False
    size, mtime_ns, digest = entry
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


def _on_disk(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as JSON holds it: non-finite metrics spelled as the summary spells them."""
    return {**entry, "metrics": {k: encode_metric(v) for k, v in entry["metrics"].items()}}


class StateRecorder:
    """Records each real success (fingerprint + output manifest) for skip-unchanged.

    The manifest is taken when the job finishes; the cache file is rewritten once, when
    the run ends, off the per-job path (a file per job cost ~0.2 ms a job). A run killed
    with SIGKILL loses this run's entries: that only costs re-running those jobs.
    """

    def __init__(self, plan: Plan, decisions: Decisions, base: Path, run_id: str) -> None:
        self.path = base / plan.output_root / STATE_DIR / CACHE_FILE
        self.decisions = decisions
        self.base = base
        self.run_id = run_id
        self.pending: dict[str, dict[str, Any]] = {}

    def emit(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.flush()
            return
        if not isinstance(event, JobFinished) or event.result.status is not Status.SUCCEEDED:
            return
        job = event.result.job
        if job.id not in self.decisions.fingerprints:
            return  # a sweep trial: its sweep is what gets cached, not each trial
        self.pending[job.id] = {
            "run_id": self.run_id,
            "finished_at": time.time(),
            "parts": self.decisions.fingerprints[job.id],
            "manifest": manifest(self.base / job.output_dir),
            "metrics": dict(event.result.metrics),
        }

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            cache = {**load_cache(self.path)[0], **self.pending}  # warned of when decided
            text = json.dumps({job: _on_disk(e) for job, e in cache.items()}, allow_nan=False)
            write_atomic(self.path, text, durable=False)
        except OSError:
            return  # a cache: without it the next run just runs those jobs again
        self.pending.clear()


# ------------------------------------------------------------------------------ resume
def _previous_jobs(
    options: RunOptions, base: Path
) -> tuple[PreviousRun | None, tuple[Leftover, ...]]:
    """The run to resume, named as its files are; and the attempts its journal left open."""
    source = options.resume if options.resume is not None else options.rerun_failed
    if source is None:
        return None, ()
    summary_dir = base / options.output_root / SUMMARY_DIR
    path = _newest_run(summary_dir) if source in {"", "latest"} else Path(source)
    name = path.stem.removeprefix("journal_").removeprefix(SUMMARY_PREFIX)
    try:
        if path.suffix == ".jsonl":
            summary, leftovers = _from_journal(path, name)
        else:
            summary, leftovers = load(path), ()
    except OrchestratorError as error:
        raise OrchestratorError(f"cannot resume: {error}") from None
    return PreviousRun(name, {job.id: job for job in summary.jobs}), leftovers


def _from_journal(path: Path, name: str) -> tuple[RunSummary, tuple[Leftover, ...]]:
    """The summary a journal rebuilds, and its open attempts: a journal cut short (the
    run was killed while writing it) still gives the jobs it recorded."""
    try:
        records = read_journal(path)
    except OSError as error:
        raise OrchestratorError(f"{path}: cannot read: {error.strerror or error}") from None
    if not any(isinstance(r, dict) and r.get("event") == "run_started" for r in records):
        raise OrchestratorError(f"{path}: not a run journal (no run_started record)")
    try:
        rebuilt = rebuild_summary(records)
        leftovers = _leftovers(records, name)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        what = f"{type(error).__name__} {error}".strip()
        raise OrchestratorError(f"{path}: not a usable journal ({what})") from None
    return from_document(rebuilt, str(path)), leftovers


def _leftovers(records: list[dict[str, Any]], run: str) -> tuple[Leftover, ...]:
    return tuple(
        Leftover(str(r["job"]), run, int(r["pid"]), int(r["starttime"]), r.get("boot_id"))
        for r in open_attempts(records)
        if isinstance(r.get("pid"), int) and isinstance(r.get("starttime"), int)
    )


def stop_leftovers(leftovers: tuple[Leftover, ...], plan: Plan) -> None:
    """Stop the resumed run's attempts that are still running, as a cancel would.

    Call it holding the run lock: then no live orchestrator owns them (the lock dies
    with its holder), so nothing would ever record their result, and the attempt this
    run starts would write the same output dir alongside them. They get their grace
    (SIGTERM to the group, SIGKILL after it), time to write a checkpoint that the new
    attempt can resume from; stopping them is what a Ctrl-C of that run would have done.
    A pid whose start time (or boot) differs from the journal's is another process now,
    and is left alone.
    """
    from orchestrator.execute.signals import stop_groups
    from orchestrator.plan import DEFAULT_GRACE
    from orchestrator.report import console

    graces = {job.id: job.grace for job in plan.jobs}
    live = [
        old
        for old in leftovers
        if start_time(old.pid) == old.starttime and old.boot_id in {None, boot_id()}
    ]
    for old in live:
        console.print_warning(
            f"job '{old.job}' of run {old.run} is still running (pid {old.pid}): "
            f"stopping its process group before this run starts"
        )
    stop_groups({old.pid: graces.get(old.job, DEFAULT_GRACE) for old in live})


def _newest_run(summary_dir: Path) -> Path:
    """The newest run's journal (it exists even when the run was killed), else latest.json."""
    journals = sorted(summary_dir.glob("journal_*.jsonl"))
    if journals:
        return journals[-1]
    if (summary_dir / LATEST).is_file():
        return summary_dir / LATEST
    raise OrchestratorError(f"nothing to resume: no journal or {LATEST} in {summary_dir}")
