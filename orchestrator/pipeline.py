"""discover → config → select → plan → execute → report, as plain function calls.

cli.py turns flags into `RunOptions` and calls `main`; tests and other tools can call the
same functions without click.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any

from orchestrator.config import config_files, load_configs
from orchestrator.discovery import DEFAULT_ROOTS, discover
from orchestrator.errors import OrchestratorError
from orchestrator.events import EventSink, Fanout, RunFinished, RunStarted
from orchestrator.execute.lock import run_lock
from orchestrator.execute.scheduler import Backend, Scheduler, SweepRunner
from orchestrator.incremental import Decisions, StateRecorder, decide
from orchestrator.jobs import merge, select
from orchestrator.models import JobSpec, Plan, PlannedJob, RunOptions
from orchestrator.outcome import EXIT_FAILED, exit_code
from orchestrator.plan import build_plan
from orchestrator.report import console, history
from orchestrator.report.journal import Journal, journal_path, read_journal, rebuild_summary
from orchestrator.report.outputs import write_reports
from orchestrator.report.summary import (
    LATEST,
    RunInfo,
    assemble,
    job_record,
    new_run_id,
    run_header,
)
from orchestrator.secrets import redact_tree
from orchestrator.shards import merge_summaries, parse_shard, split

CONFIG_DIR = "configs"
SUMMARY_DIR = "summaries"


@dataclass(frozen=True, slots=True)
class Selection:
    jobs: tuple[JobSpec, ...]
    config_files: tuple[str, ...]
    warnings: tuple[str, ...]


def load_selection(options: RunOptions, base: Path) -> Selection:
    """Discover scripts, read the config files, merge them and apply --only/--exclude."""
    for root in options.discover_roots:  # the defaults are conventions; a given root must exist
        if not (base / root).is_dir():
            raise OrchestratorError(f"--discover-roots {root}: no such directory")
    roots = options.discover_roots or DEFAULT_ROOTS
    scripts, warnings = discover(roots, base) if options.auto_discover else ((), [])
    profiles = [f"{CONFIG_DIR}/{name}.yaml" for name in options.profiles]
    files, explicit = config_files(base / CONFIG_DIR, [*profiles, *options.configs], base)
    config = load_configs(files, base, explicit=explicit)
    specs = merge(scripts, config, base)
    selected = select(
        specs,
        options.only,
        options.exclude,
        no_deps=options.no_deps,
        allow_empty=options.allow_empty,
    )
    if options.shard:
        index, count = parse_shard(options.shard)
        durations = previous_durations(base / options.durations) if options.durations else {}
        needs = {s.id: s.needs for s in selected}
        part = set(split([s.id for s in selected], count, durations, needs)[index - 1])
        selected = tuple(s for s in selected if s.id in part)
    return Selection(selected, config.files, tuple(warnings))


def make_plan(
    options: RunOptions, selection: Selection, base: Path, cpu_count: int | None = None
) -> Plan:
    history_file = options.durations or str(PurePath(options.output_root, SUMMARY_DIR, LATEST))
    durations = previous_durations(base / history_file)
    return build_plan(
        selection.jobs,
        options,
        python=sys.executable,
        cpu_count=cpu_count or os.cpu_count() or 1,
        durations=durations,
        inherited_env=os.environ,
    )


def previous_durations(summary: Path) -> dict[str, float]:
    """How long each job took last time it succeeded, for longest-first scheduling."""
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
        return {
            job["id"]: float(job["duration_s"])
            for job in data["jobs"]
            if job.get("status") == "succeeded"
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no usable history: plan order is a fine fallback


def main(options: RunOptions, base: Path) -> int:
    selection = load_selection(options, base)
    for warning in selection.warnings:
        console.print_warning(warning)
    if options.list_only:
        console.list_jobs(selection.jobs, selection.config_files, options.output_format)
        return 0
    if options.dry_run:
        plan = make_plan(options, selection, base)
        decisions = decide(plan, options, base)
        console.show_plan(plan, decisions, options.output_format, options.verbosity > 0)
        return 0
    if options.backend == "ray":
        from orchestrator.execute.ray_backend import connect  # noqa: PLC0415 - optional

        ray = connect(options.ray_address, options.cpus, ship_outputs=options.ray_ship_outputs)
        try:
            plan = make_plan(options, selection, base, cpu_count=ray.cpus)
            decisions = decide(plan, options, base)
            return run_plan(plan, options, base, decisions, backend=ray, backend_info=ray.info)
        finally:
            ray.close()
    plan = make_plan(options, selection, base)
    local = {"name": "local", "cpus": plan.cpus}
    decisions = decide(plan, options, base)
    return run_plan(plan, options, base, decisions, backend=None, backend_info=local)


def run_plan(
    plan: Plan,
    options: RunOptions,
    base: Path,
    decisions: Decisions,
    *,
    backend: Backend | None,
    backend_info: Mapping[str, Any],
) -> int:
    """Execute the plan; whatever happens to the jobs, the summary gets written."""
    root = base / plan.output_root
    with run_lock(root):
        summary_dir = Path(plan.summary_dir)
        started = time.time()
        secrets = {value for job in plan.jobs for value in job.secrets}
        header = redact_tree({**run_header(options, base), "backend": dict(backend_info)}, secrets)
        try:
            Path(plan.log_dir).mkdir(parents=True, exist_ok=True)
            summary_dir.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(summary_dir, started)
            path = journal_path(summary_dir, run_id)
            journal = Journal(path, header) if options.journal else None
        except OSError as exc:
            raise OrchestratorError(f"cannot write to {root}: {exc.strerror}") from None
        sinks: list[EventSink] = [journal] if journal else []
        github = os.environ.get("GITHUB_ACTIONS") == "true"
        sinks += [
            StateRecorder(plan, decisions, base, run_id),
            console.ConsoleReporter(options.verbosity, github=github),
        ]
        sink = Fanout(*sinks)
        scheduler = Scheduler(plan, sink, decisions.carried, sweep_factory(plan, options), backend)
        with scheduler.handling_signals():
            sink.emit(RunStarted(plan, started))
            outcome = scheduler.run()
            code = outcome.interrupted_exit or exit_code(
                outcome.results, allow_partial_success=options.allow_partial_success
            )
            ended = time.time()
            info = RunInfo(started, ended, code, outcome.interrupted_by)
            summary = assemble(header, [job_record(r) for r in outcome.results], info)
            written = _write_reports_or_say_why(summary, summary_dir, run_id, base, journal)
            code = code if written is not None else max(code, EXIT_FAILED)
            shown = str(written) if written else None
            sink.emit(RunFinished(outcome.results, code, started, ended, shown))
            if journal:
                journal.close()
            if github:
                console.github_annotations(summary)
        return code


def _write_reports_or_say_why(
    summary: Mapping[str, Any], summary_dir: Path, run_id: str, base: Path, journal: Journal | None
) -> Path | None:
    """The reports, or a clear error (a full disk, a read-only dir) and no half file.

    Every file is replaced atomically, so a failed write leaves the previous latest.json
    whole; the journal, already on disk, still has this run.
    """
    try:
        return write_reports(summary, summary_dir, run_id, base)
    except OSError as exc:
        where = f"; the journal {journal.path} has the run" if journal else ""
        console.print_error(
            OrchestratorError(f"could not write the summary: {exc.strerror}{where}")
        )
        return None


def plan_shards(options: RunOptions, base: Path, count: int) -> list[dict[str, str]]:
    """GitHub matrix entries: at most one shard per job, so no runner starts for nothing."""
    selection = load_selection(replace(options, shard=None), base)
    ids = [spec.id for spec in selection.jobs]
    durations = previous_durations(base / options.durations) if options.durations else {}
    needs = {spec.id: spec.needs for spec in selection.jobs}
    parts = [part for part in split(ids, min(count, len(ids)), durations, needs) if part]
    return [
        {"shard": f"{index}/{len(parts)}", "jobs": " ".join(part)}
        for index, part in enumerate(parts, start=1)
    ]


def merge_runs(paths: Sequence[Path], output_root: Path, expect: int | None) -> tuple[Path, int]:
    """Join shard summaries (files, or directories searched for latest.json) into one.

    A job's log path is kept when the log is at that path under `output_root` (the shards'
    logs/ were gathered there), else rewritten to where the shard's copy is, so summary.md
    shows the right tails and a reviewer can open the right file.
    """
    own = (output_root / SUMMARY_DIR / LATEST).resolve()  # a previous merge's output
    found = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob(LATEST)))]
    files = [f for f in found if f.resolve() != own]
    summaries = []
    for file in files:
        try:
            summary = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OrchestratorError(f"{file}: not a summary ({exc})") from None
        root = file.parent.parent
        for job in summary["jobs"]:
            log = root / job["log_path"]
            if log.is_file() and not (output_root / job["log_path"]).is_file():
                job["log_path"] = os.path.relpath(log, output_root)
        summaries.append(summary)
    merged = merge_summaries(summaries)
    if expect is not None and len(summaries) != expect:
        console.print_warning(f"expected {expect} shard summaries, found {len(summaries)}")
        merged["exit_code"] = max(merged["exit_code"], EXIT_FAILED)
    summary_dir = output_root / SUMMARY_DIR
    run_id = new_run_id(summary_dir, time.time()) + "_merged"
    path = write_reports(merged, summary_dir, run_id, output_root)
    return path, int(merged["exit_code"])


def sweep_factory(plan: Plan, options: RunOptions) -> Callable[[PlannedJob], SweepRunner] | None:
    """Drivers for sweep jobs; Optuna is imported only when the plan has one."""
    if not any(job.sweep for job in plan.jobs):
        return None
    from orchestrator.execute.sweep import SweepDriver, default_storage  # noqa: PLC0415

    storage = options.optuna_storage or default_storage(plan.output_root)
    return lambda job: SweepDriver(job, storage, plan.output_root)


def compare_runs(
    base_paths: Sequence[Path],
    head_paths: Sequence[Path],
    *,
    tolerance: float,
    output_format: str,
    project: Path,
) -> int:
    """Print what changed between two runs (the newest summary of each side); return how
    many regressions of required jobs there are.

    Per-job `metric_directions` and `regress_tolerance` come from the config files.
    """
    base = history.load_summaries(base_paths)[-1]
    head = history.load_summaries(head_paths)[-1]
    files, _ = config_files(project / CONFIG_DIR, (), project)
    jobs = load_configs(files, project).jobs
    comparison = history.compare(
        base,
        head,
        tolerance=tolerance,
        directions={
            i: j.fields["metric_directions"]
            for i, j in jobs.items()
            if "metric_directions" in j.fields
        },
        tolerances={
            i: j.fields["regress_tolerance"]
            for i, j in jobs.items()
            if "regress_tolerance" in j.fields
        },
    )
    if output_format == "json":
        print(json.dumps(history.compare_json(comparison), indent=2))
    elif output_format == "markdown":
        print(history.compare_markdown(comparison), end="")
    else:
        history.print_compare(comparison)
    return len(comparison.regressions)


def summarize(journal: Path, output_root: Path) -> Path:
    """Rebuild a summary from a run's journal (e.g. one killed before it wrote its own)."""
    try:
        records = read_journal(journal)
        summary = rebuild_summary(records)
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        raise OrchestratorError(f"{journal}: not a usable journal ({exc!r})") from None
    summary_dir = output_root / SUMMARY_DIR
    run_id = journal.stem.removeprefix("journal_") + "_rebuilt"
    return write_reports(summary, summary_dir, run_id, Path.cwd())
