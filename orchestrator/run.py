"""Running a plan: the scheduler with its backend, the journal, the console, the reports.

Imported only when a run starts, so `--help`, `--list` and `--dry-run` do not pay for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from orchestrator.config.tracking import tracking_uri_problem
from orchestrator.decide import Decisions, Leftover, is_forced, study_identity
from orchestrator.errors import OrchestratorError
from orchestrator.events import EventSink, Fanout, RunFinished, RunStarted
from orchestrator.execute import kernel_files
from orchestrator.execute.backend import Backend
from orchestrator.execute.leftovers import still_running, stop_leftovers
from orchestrator.execute.lock import LOCK_FILE, run_lock
from orchestrator.execute.scheduler import Scheduler
from orchestrator.execute.sweep_trials import SweepRunner
from orchestrator.execute.watchdog import Watchdog, watching
from orchestrator.models import JobResult, Plan, PlannedJob, RunOptions, TrackingConfig
from orchestrator.outcome import EXIT_FAILED, exit_code
from orchestrator.report import console
from orchestrator.report.cache_recorder import CacheRecorder
from orchestrator.report.github import github_annotations
from orchestrator.report.journal import Journal, journal_path
from orchestrator.report.live import ConsoleReporter
from orchestrator.report.reports import write_reports
from orchestrator.report.summary import RunInfo, assemble, job_record, new_run_id, run_header
from orchestrator.run_summary import JobRecord, RunSummary
from orchestrator.secrets import redact_tree

if TYPE_CHECKING:
    from orchestrator.config import Notify
    from orchestrator.promote import Promotion
    from orchestrator.tracking import TrackedRun

    #: Starts a run's tracking: (plan, run id, header, the run resumed) → its session.
    StartTracking = Callable[[Plan, str, Mapping[str, Any], str | None], TrackedRun]


def run_plan(
    plan: Plan,
    options: RunOptions,
    base: Path,
    decisions: Decisions,
    *,
    backend: Backend | None,
    backend_info: Mapping[str, Any],
    tracking: TrackingConfig | None = None,
    notify: Notify | None = None,
) -> int:
    """Execute the plan; whatever happens to the jobs, the summary gets written."""
    root = base / plan.output_root
    _refuse_symlinked_dirs(plan, base)
    tracked = _tracking(tracking, options, base, plan)
    with run_lock(root):
        _stop_leftovers(decisions.leftovers, plan)
        # Before the journal: a bad --optuna-storage is refused before anything is written.
        sweeps = sweep_factory(plan, options, decisions)
        # Ray's jobs run on their nodes, under Ray's own supervision.
        with watching() if backend is None else contextlib.nullcontext() as watchdog:
            return _run_locked(
                plan,
                options,
                base,
                decisions,
                sweeps,
                backend=backend,
                backend_info=backend_info,
                dog=watchdog,
                tracked=tracked,
                notify=notify,
            )


def _stop_leftovers(leftovers: tuple[Leftover, ...], plan: Plan) -> None:
    """Stop the resumed run's attempts that are still running, saying so first."""
    live = still_running(leftovers)
    for old in live:
        console.print_warning(
            f"job '{old.job}' of run {old.run} is still running (pid {old.pid}): "
            f"stopping its process group before this run starts"
        )
    stop_leftovers(live, plan)


def _run_locked(
    plan: Plan,
    options: RunOptions,
    base: Path,
    decisions: Decisions,
    sweeps: Callable[[PlannedJob], SweepRunner] | None,
    *,
    backend: Backend | None,
    backend_info: Mapping[str, Any],
    dog: Watchdog | None,
    tracked: StartTracking | None = None,
    notify: Notify | None = None,
) -> int:
    """The run itself, holding the output root's lock, its jobs watched by `dog`."""
    root = base / plan.output_root
    summary_dir = Path(plan.summary_dir)
    started = time.time()
    secrets = {value for job in plan.jobs for value in job.secrets}
    header = redact_tree({**run_header(options, base), "backend": dict(backend_info)}, secrets)
    try:
        Path(plan.log_dir).mkdir(parents=True, exist_ok=True)
        summary_dir.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(summary_dir, started)
        path = journal_path(summary_dir, run_id)
        pid_of = dog.pid_of if dog else None
        journal = Journal(path, header, pid_of) if options.journal else None
    except OSError as exc:
        raise OrchestratorError(f"cannot write to {root}: {exc.strerror}") from None
    sinks: list[EventSink] = [journal] if journal else []
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    sinks += [
        CacheRecorder(plan, decisions, base, run_id),
        reporter := ConsoleReporter(options.verbosity, github=github),
    ]
    if backend is None:  # Ray's jobs hold their descriptors on their own nodes
        plan = _fit_to_descriptors(plan)
    session = tracked and tracked(plan, run_id, header, decisions.resumed)
    sinks += [session] if session else []
    sink = Fanout(*sinks)
    scheduler = Scheduler(
        plan, sink, decisions.reused, sweeps, backend, usage_every=reporter.usage_every
    )
    if session:  # each job started with its MLflow run's variables
        scheduler.backend = session.backend(scheduler.backend)
    with scheduler.handling_signals():
        if session:  # a signal meanwhile is the scheduler's to handle: it stops the run
            session.ready()
        sink.emit(RunStarted(plan, started))
        outcome = scheduler.run()
        code = outcome.interrupted_exit or exit_code(
            outcome.results,
            allow_partial_success=options.allow_partial_success,
            enforce_gates=plan.enforce_gates,
        )
        ended = time.time()
        info = RunInfo(started, ended, code, outcome.interrupted_by)
        promotions = _promote(outcome.results, plan, base, run_id, header)
        records = [_with_promotion(job_record(r), promotions) for r in outcome.results]
        summary = assemble(header, records, info)
        if session:
            summary = _with_tracking(
                summary, session, outcome.results, code=code, ended=ended, secrets=secrets
            )
        written = _write_reports_or_say_why(summary, summary_dir, run_id, base, journal)
        code = code if written is not None else max(code, EXIT_FAILED)
        shown = str(written) if written else None
        sink.emit(RunFinished(outcome.results, code, started, ended, shown))
        _say_promotions(promotions)
        if journal:
            journal.close()
        if github:
            github_annotations(summary)
    # Outside the scheduler's signal handling: Ctrl-C stops a slow webhook, not a job.
    if notify and written:
        _notify(notify, options, summary, summary_dir, run_id, base=base)
    return code


def _notify(
    settings: Notify,
    options: RunOptions,
    summary: RunSummary,
    summary_dir: Path,
    run_id: str,
    *,
    base: Path,
) -> None:
    """The run's messages; a CI shard is part of a run, and `merge` sends the one message."""
    if options.shard or options.shard_jobs is not None:
        return
    if not options.notify:
        told = ", ".join(target.name for target in settings.targets)
        console.print_note(f"notify: off (--no-notify): not telling {told}")
        return
    from orchestrator.notify.after_run import notify_after_run, previous_run

    before = previous_run(summary_dir, run_id)
    notify_after_run(settings, summary, summary_dir, run_id, base, previous=before)


def _tracking(
    config: TrackingConfig | None, options: RunOptions, base: Path, plan: Plan
) -> StartTracking | None:
    """What starts the run's MLflow tracking, if it is on; MLflow missing is a usage error
    before anything runs, not a warning after an hour of untracked training."""
    if config is None and options.mlflow is None and options.mlflow_experiment is None:
        return None  # the common case: not even the tracking package is imported
    from orchestrator.tracking import TrackedRun, resolve

    tracking = resolve(config, options, os.environ, base / plan.output_root, base.name)
    if tracking is None:
        return None
    if problem := tracking_uri_problem(tracking.uri):  # the config's is checked with its line
        given = "--mlflow" if options.mlflow else "MLFLOW_TRACKING_URI"
        raise OrchestratorError(f"{given}: {problem}")
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise OrchestratorError(
            "MLflow tracking is on (--mlflow or tracking: in the config), but mlflow is not "
            "installed: pip install 'training-orchestrator[mlflow]', or --mlflow off"
        )
    return lambda plan, run_id, header, resumed: TrackedRun(
        tracking, plan, run_id=run_id, header=header, resumed=resumed, environ=os.environ
    )


def _with_tracking(
    summary: RunSummary,
    session: TrackedRun,
    results: Sequence[JobResult],
    *,
    code: int,
    ended: float,
    secrets: set[str],
) -> RunSummary:
    """The summary with what tracking did; a failure is a warning, never the exit code."""
    outcome = redact_tree(session.finish(results, code, ended), secrets)
    if outcome["status"] != "ok":
        console.print_warning(f"tracking: {outcome['status']}")
    return dataclasses.replace(summary, tracking=outcome)


def _promote(
    results: Sequence[JobResult], plan: Plan, base: Path, run_id: str, header: Mapping[str, Any]
) -> dict[str, Promotion]:
    """`promote:`'s versions, made before the summary so that it records them."""
    if not any(result.job.promote for result in results):
        return {}
    from orchestrator.promote import promote_all

    commit = header.get("git_commit")
    return promote_all(
        results, base=base, output_root=plan.output_root, run_id=run_id, git_commit=commit
    )


def _with_promotion(record: JobRecord, promotions: Mapping[str, Promotion]) -> JobRecord:
    done = promotions.get(record.id)
    return record if done is None else dataclasses.replace(record, promotion=done.document())


def _say_promotions(promotions: Mapping[str, Promotion]) -> None:
    """After the final table: what was promoted, and, as a warning, what was not and why."""
    for job_id, done in promotions.items():
        if done.version is None:
            console.print_warning(f"promote {job_id}: {done.text}")
        else:
            source = f" (job {job_id})" if job_id != done.name else ""
            console.print_note(f"{done.note or 'promoted'} {done.text}{source}")


#: Descriptors a running local job holds here: its log and the pidfd that reports its exit.
FDS_PER_JOB = 2
#: Descriptors the run may hold at once besides those it holds when it starts: a spawn's
#: error pipe, the stager's dirs, a metrics file read, a log redacted, a report written.
FDS_SPARE = 16


def _fit_to_descriptors(plan: Plan) -> Plan:
    """The plan with no more workers than the descriptor limit (`ulimit -n`) can hold.

    Past it every start fails with "Too many open files" (EMFILE) and the jobs fail for
    a reason that is not theirs; fewer workers are slower, and the warning says why.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return plan
    spare = FDS_SPARE + kernel_files.MAX_HELD
    fits = max(1, (soft - _open_descriptors() - spare) // FDS_PER_JOB)
    if plan.max_workers <= fits:
        return plan
    console.print_warning(
        f"--max-workers {plan.max_workers} lowered to {fits}: "
        f"only {soft} file descriptors (ulimit -n)"
    )
    return dataclasses.replace(plan, max_workers=fits)


def _open_descriptors() -> int:
    """How many descriptors this process holds now (Linux /proc, macOS /dev/fd)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return sum(1 for _ in Path(listing).iterdir()) - 1  # the listing's own descriptor
    return FDS_SPARE  # cannot tell: guess a run's worth


def _refuse_symlinked_dirs(plan: Plan, base: Path) -> None:
    """Refuse a run whose output root has a symlink where a dir we write goes.

    The jobs' logs would land wherever it points, perhaps in another project's tree;
    `ln -s` by mistake or by a job's last run looks the same from here. The root itself
    may be a symlink: that is where the user chose to write.
    """
    results = str(PurePath(plan.output_root, "results"))
    state = str(PurePath(plan.output_root, LOCK_FILE).parent)
    for folder in (plan.log_dir, plan.summary_dir, results, state):
        path = base / folder
        if path.is_symlink():
            raise OrchestratorError(
                f"{folder} is a symlink (to {path.readlink()}): nothing is written "
                "outside the output root"
            )


def _write_reports_or_say_why(
    summary: RunSummary, summary_dir: Path, run_id: str, base: Path, journal: Journal | None
) -> Path | None:
    """The reports, or a clear error (a full disk, a read-only dir) and no half file.

    Every file is replaced atomically, so a failed write leaves the previous latest.json
    whole; the journal, already on disk, still has this run, unless the same full disk
    stopped it too: then only the final table has the run, and saying otherwise would
    send the user to `summarize --from-journal` for a run cut short.

    `summaries/` was checked when the run began, but a job may have replaced it with a
    symlink since: the reports would then land wherever it points. Every job has ended
    here, so nothing can swap it after this look.
    """
    swapped = summary_dir.is_symlink()
    try:
        if swapped:
            raise OSError(
                errno.ELOOP,
                f"{summary_dir} became a symlink during the run (to {summary_dir.readlink()}); "
                "nothing is written outside the output root",
            )
        return write_reports(summary, summary_dir, run_id, base)
    except OSError as exc:
        where = ""
        if journal and (journal.stopped or swapped):
            why = "stopped early" if journal.stopped else "is gone with it"
            where = f"; the journal {journal.path} {why} too: the table below is all"
        elif journal:
            where = f"; the journal {journal.path} has the run"
        console.print_error(
            OrchestratorError(f"could not write the summary: {exc.strerror}{where}")
        )
        return None


def sweep_factory(
    plan: Plan, options: RunOptions, decisions: Decisions
) -> Callable[[PlannedJob], SweepRunner] | None:
    """Drivers for sweep jobs; Optuna is imported only when the plan has one."""
    if not any(job.sweep for job in plan.jobs):
        return None
    from orchestrator.execute.sweep import SweepDriver
    from orchestrator.execute.sweep_storage import open_storage

    storage = open_storage(options.optuna_storage, plan.output_root)
    if storage.set_aside:
        console.print_warning(
            f"the study store {storage.url.removeprefix('sqlite:///')} was damaged: "
            f"set aside as {storage.set_aside}; sweeps start new studies"
        )
    return lambda job: SweepDriver(
        job, storage, study_identity(job, decisions), forced=is_forced(job.id, options.force)
    )
