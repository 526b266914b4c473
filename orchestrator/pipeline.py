"""discover → config → select → plan → decide → execute → report, as plain function calls.

`orchestrator.cli` turns flags into `RunOptions` and calls `main`; tests and other tools
can call the same functions without click.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from orchestrator.config import Config, Notify, config_files, load_configs
from orchestrator.discovery import DEFAULT_ROOTS, discover
from orchestrator.discovery_cache import STATE_DIR, keep_facts, use_kept_facts
from orchestrator.errors import OrchestratorError
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.jobs import forced, merge, select
from orchestrator.models import AUTO, JobSpec, Plan, RunOptions, TrackingConfig
from orchestrator.plan import build_plan
from orchestrator.report import console, listing
from orchestrator.resources import (
    Needs,
    Pool,
    given_memory,
    memory_from_available,
    needs,
    resource_warnings,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from orchestrator.decide import Decisions
    from orchestrator.execute.ray_backend import RayBackend
    from orchestrator.run_summary.measured import Measured
    from orchestrator.studies import StudyPreview

# Everything a run needs beyond planning is imported where it is used: `--help`, `--list`
# and `--dry-run` then load only what they print (bench/startup.py counts what they load).

CONFIG_DIR = "configs"


@frozen_dataclass
class Selection:
    jobs: tuple[JobSpec, ...]
    config_files: tuple[str, ...]
    warnings: tuple[str, ...]
    #: The ids `--force` named (see `jobs.forced`).
    forced: tuple[str, ...] = ()
    #: The config's `tracking:` (flags and env apply at the run).
    tracking: TrackingConfig | None = None
    #: Who is told when the run ends, and how each job's metrics regress (for `when:
    #: regression`): `metric_directions` and `regress_tolerance` by job.
    notify: Notify | None = None


def load_selection(options: RunOptions, base: Path) -> Selection:
    """Discover scripts, read the config files, merge them and apply --only/--exclude."""
    for root in options.discover_roots if options.auto_discover else ():
        if not (base / root).is_dir():  # the defaults are conventions; a given root must exist
            raise OrchestratorError(f"--discover-roots {root}: no such directory")
    roots = options.discover_roots or DEFAULT_ROOTS
    use_kept_facts(base / options.output_root / STATE_DIR)
    scripts, warnings = discover(roots, base) if options.auto_discover else ((), [])
    profiles = [f"{CONFIG_DIR}/{name}.yaml" for name in options.profiles]
    files, explicit = config_files(base / CONFIG_DIR, [*profiles, *options.configs], base)
    config = load_configs(files, base, explicit=explicit, max_jobs=options.max_jobs)
    specs = _masking_notify_secrets(merge(scripts, config, base, max_jobs=options.max_jobs), config)
    selected = select(
        specs,
        options.only,
        options.exclude,
        no_deps=options.no_deps,
        allow_empty=options.allow_empty,
    )
    force = forced(specs, options.force)
    if options.shard_jobs is not None:
        selected = _decided_shard(selected, options.shard_jobs)
    elif options.shard:
        from orchestrator.shards import parse_shard, split

        index, count = parse_shard(options.shard)
        durations = previous_durations(base / options.durations) if options.durations else {}
        needs = {s.id: s.needs for s in selected}
        part = set(split([s.id for s in selected], count, durations, needs)[index - 1])
        selected = tuple(s for s in selected if s.id in part)
    return Selection(
        selected, config.files, tuple(warnings), force, config.tracking, notify_settings(config)
    )


def _masking_notify_secrets(specs: tuple[JobSpec, ...], config: Config) -> tuple[JobSpec, ...]:
    """Jobs inherit the orchestrator's environment, webhook URLs included: a job that
    prints its env must show them as ***, whatever the variables are called."""
    names = tuple(name for target in config.notify for name in target.env_names)
    if not names:
        return specs
    return tuple(replace(spec, redact=(*spec.redact, *names)) for spec in specs)


def notify_settings(config: Config) -> Notify | None:
    """The config's `notify:` targets, with the per-job regression rules `compare` uses."""
    if not config.notify:
        return None
    return Notify(
        config.notify,
        directions={
            i: j.fields["metric_directions"]
            for i, j in config.jobs.items()
            if "metric_directions" in j.fields
        },
        tolerances={
            i: j.fields["regress_tolerance"]
            for i, j in config.jobs.items()
            if "regress_tolerance" in j.fields
        },
    )


def _decided_shard(selected: tuple[JobSpec, ...], ids: tuple[str, ...]) -> tuple[JobSpec, ...]:
    """Exactly the jobs the plan gave this runner; never a split recomputed here.

    A runner's own view (its restored durations, say) may differ from the plan job's, and
    a split recomputed from it could run a job twice or never. A job the plan names that
    this runner does not know means the two disagree on the code or the selection: stop.
    """
    known = {spec.id for spec in selected}
    unknown = [job_id for job_id in ids if job_id not in known]
    if unknown:
        raise OrchestratorError(
            f"--shard-jobs: {', '.join(map(repr, unknown))} not among the selected jobs here; "
            "the plan and this runner disagree (same commit, same selection flags?)"
        )
    wanted = set(ids)
    return tuple(spec for spec in selected if spec.id in wanted)


def make_plan(
    options: RunOptions, selection: Selection, base: Path, cpu_count: int | None = None
) -> Plan:
    from orchestrator.run_summary import LATEST, SUMMARY_DIR

    history_file = options.durations or str(PurePath(options.output_root, SUMMARY_DIR, LATEST))
    durations = previous_durations(base / history_file)
    return build_plan(
        selection.jobs,
        options,
        python=sys.executable,
        cpu_count=cpu_count or os.cpu_count() or 1,
        durations=durations,
        inherited_env=os.environ,
        pool=_pool(options, selection.jobs),
        measured=previous_usage(options, selection.jobs, base),
    )


def previous_usage(
    options: RunOptions, jobs: tuple[JobSpec, ...], base: Path
) -> dict[str, Measured]:
    """What the jobs with an `auto` need used last time they succeeded (read only for them)."""
    auto = [job.id for job in jobs if AUTO in (job.cpus, job.memory)]
    if not auto:
        return {}
    from orchestrator.run_summary import SUMMARY_DIR
    from orchestrator.run_summary.measured import last_measured

    return last_measured(base / options.output_root / SUMMARY_DIR, auto)


def _pool(options: RunOptions, jobs: tuple[JobSpec, ...]) -> Pool:
    """The memory and GPUs jobs share here; on Ray the cluster counts them, not us."""
    if options.backend == "ray":
        return Pool()
    from orchestrator.execute.devices import available_memory, local_gpus

    if options.memory is not None:
        pool = given_memory(options.memory)
    else:
        available = available_memory()
        pool = memory_from_available(available) if available is not None else Pool()
    if any(job.gpus > 0 for job in jobs):
        gpus, source = local_gpus(options.gpus, os.environ)
        pool = replace(pool, gpus=gpus, gpu_source=source)
    return pool


def previous_durations(summary: Path) -> dict[str, float]:
    """How long each job took last time it succeeded, for longest-first scheduling."""
    from orchestrator.run_summary import succeeded_durations  # --list plans nothing

    return succeeded_durations(summary)


def main(options: RunOptions, base: Path) -> int:
    selection = load_selection(options, base)
    options = replace(options, force=selection.forced)
    for warning in (*selection.warnings, *resource_warnings(selection.jobs, options)):
        console.print_warning(warning)
    if options.list_only:
        _preview_list(options, selection, base)
        return 0
    with _ray_backend(options) as ray:
        # One plan and one set of decisions: --dry-run prints exactly what a run executes.
        plan = make_plan(options, selection, base, cpu_count=ray.cpus if ray else None)
        if ray:
            ray.check(plan.jobs)  # a job no node can run is an error now, not a hang
        decisions = decide_plan(plan, options, base)
        if options.dry_run:
            _preview_plan(options, plan, decisions, base)
            return 0
        keep_facts(base / options.output_root / STATE_DIR)
        from orchestrator.run import run_plan

        info = ray.info if ray else {"name": "local", "cpus": plan.cpus}
        return run_plan(
            plan,
            options,
            base,
            decisions,
            backend=ray,
            backend_info=info,
            tracking=selection.tracking,
            notify=selection.notify,
        )


@contextlib.contextmanager
def _ray_backend(options: RunOptions) -> Iterator[RayBackend | None]:
    """Connected to Ray for a run with `--backend ray`; None when jobs run here, or not at
    all (--dry-run plans for this machine, without starting Ray)."""
    if options.dry_run or options.backend != "ray":
        yield None
        return
    from orchestrator.execute.ray_backend import connect

    ray = connect(options.ray_address, options.cpus, ship_outputs=options.ray_ship_outputs)
    try:
        yield ray
    finally:
        ray.close()


def decide_plan(plan: Plan, options: RunOptions, base: Path) -> Decisions:
    """Read the history the plan's jobs have (the cache, the run resumed), then decide."""
    from orchestrator.decide import decide
    from orchestrator.decide.cache import CACHE_FILE, STATE_DIR, load_cache
    from orchestrator.decide.history import read_history
    from orchestrator.resume import previous_run

    cache_file = PurePath(plan.output_root, STATE_DIR, CACHE_FILE)  # as the user sees it
    cache, problems = load_cache(base / cache_file)
    for problem in problems:
        console.print_warning(f"{cache_file}: {problem}")
    history = read_history(plan, base, cache, previous_run(options, base))
    return decide(plan, history, force=options.force)


def _preview_list(options: RunOptions, selection: Selection, base: Path) -> None:
    """The job list, printed; in a GitHub step also its step summary (it ran nothing else)."""
    if options.output_format != "markdown":
        learned = (
            _learned_needs(options, selection, base) if options.output_format == "json" else {}
        )
        listing.list_jobs(selection.jobs, selection.config_files, options.output_format, learned)
    if options.output_format == "markdown" or _in_github():
        from orchestrator.report.preview import list_markdown

        _markdown_out(options, list_markdown(selection.jobs, selection.config_files))


def _learned_needs(options: RunOptions, selection: Selection, base: Path) -> dict[str, Needs]:
    """The values `auto` needs would take in a run now, as --dry-run's plan has them."""
    measured = previous_usage(options, selection.jobs, base)
    if not any(AUTO in (job.cpus, job.memory) for job in selection.jobs):
        return {}
    pool = _pool(options, ())
    cpus = options.cpus or os.cpu_count() or 1
    return {
        job.id: needs(job, measured.get(job.id), cpus, pool)
        for job in selection.jobs
        if AUTO in (job.cpus, job.memory)
    }


def _preview_plan(options: RunOptions, plan: Plan, decisions: Decisions, base: Path) -> None:
    studies = _preview_studies(options, plan, decisions, base)
    if options.output_format != "markdown":
        listing.show_plan(
            plan, decisions, options.output_format, options.verbosity > 0, studies=studies
        )
    if options.output_format == "markdown" or _in_github():
        from orchestrator.report.preview import plan_markdown

        _markdown_out(options, plan_markdown(plan, decisions, studies=studies))


def _preview_studies(
    options: RunOptions, plan: Plan, decisions: Decisions, base: Path
) -> dict[str, StudyPreview]:
    """Each sweep's study as a run would find it, read with sqlite3: no Optuna import."""
    sweeps = [job for job in plan.jobs if job.sweep is not None and not job.not_runnable]
    if not sweeps:
        return {}
    from orchestrator.decide import is_forced, study_identity
    from orchestrator.studies import preview_study, read_store_for_preview

    store, note = read_store_for_preview(options.optuna_storage, plan.output_root, base)
    return {
        job.id: preview_study(
            job.id,
            job.sweep,
            study_identity(job, decisions),
            store,
            output_dir=job.output_dir,
            forced=is_forced(job.id, options.force),
            base=base,
            store_note=note,
        )
        for job in sweeps
        if job.sweep is not None
    }


def _markdown_out(options: RunOptions, text: str) -> None:
    from orchestrator.report.github import append_step_summary

    if options.output_format == "markdown":
        print(text, end="")
    append_step_summary(text)


def _in_github() -> bool:
    return bool(os.environ.get("GITHUB_STEP_SUMMARY"))


def plan_shards(options: RunOptions, base: Path, count: int) -> list[dict[str, Any]]:
    """GitHub matrix entries: at most one shard per job, so no runner starts for nothing.

    Each entry carries its job ids: the runners run exactly those (`--shard-jobs`) and
    `merge --expect-plan` checks that every one of them reported, once.
    """
    selection = load_selection(replace(options, shard=None, shard_jobs=None), base)
    ids = [spec.id for spec in selection.jobs]
    durations = previous_durations(base / options.durations) if options.durations else {}
    needs = {spec.id: spec.needs for spec in selection.jobs}
    from orchestrator.shards import split

    parts = [part for part in split(ids, min(count, len(ids)), durations, needs) if part]
    return [
        {"shard": f"{index}/{len(parts)}", "label": f"{index}-of-{len(parts)}", "jobs": part}
        for index, part in enumerate(parts, start=1)
    ]
