"""What a run would do, before it does anything: `--list` (the jobs found) and `--dry-run`
(each job's command in start order, with whether it would run), as text or JSON.

Both print and exit, so this module imports only what a table needs: the live view's
imports (rich.live, progress bars) and the study store's stay out of `--list`.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from orchestrator.models import AUTO, KNOB_NAMES, STANDARD_FLAGS, JobSpec, Knob, Plan, PlannedJob
from orchestrator.plan import declared_flag, knob_for
from orchestrator.report.console import make_console
from orchestrator.resources import Needs, held, shared
from orchestrator.secrets import mask, redact
from orchestrator.usage import format_bytes

if TYPE_CHECKING:  # decide() is not needed to print a table: --list stays light
    from rich.console import Console

    from orchestrator.decide import Decisions
    from orchestrator.studies import StudyPreview


# ------------------------------------------------------------------------------- --list
def flag_letters(spec: JobSpec) -> str:
    """`O E F S` for the standard flags a script accepts, `.` where it does not."""
    if spec.command is not None:
        return "command"
    return " ".join(name[0].upper() if knob_for(spec, name) else "." for name in STANDARD_FLAGS)


def _knob_comments(console: Console, job: PlannedJob) -> None:
    """How a script that speaks its own dialect gets its knobs, as comments (--dry-run)."""
    if job.knobs_missing or any(k.source != "declared" for k in job.knobs):
        from orchestrator.report.knob_view import knob_lines

        for line in knob_lines(job):
            console.print(f"[dim]# {escape(line)}[/]")


def asked(spec: JobSpec) -> str:
    """`cpus 2 · memory 4.0 GiB · gpus 1 · memory_limit 6.0 GiB`: what the job asks for
    beyond one cpu, as configured (`auto` stays `auto`; --dry-run shows what it becomes)."""
    memory = spec.memory
    parts = [f"cpus {spec.cpus}"] if spec.cpus != 1 else []
    parts += [f"memory {format_bytes(memory) if isinstance(memory, int) else AUTO}"] * bool(memory)
    parts += [f"gpus {spec.gpus:g}"] if spec.gpus else []
    parts += [f"memory_limit {format_bytes(spec.memory_limit)}"] if spec.memory_limit else []
    return " · ".join(parts)


def _has_knobs(spec: JobSpec) -> bool:
    """Whether the script takes a knob in its own dialect, or says why it lacks one."""
    return bool(spec.knobs or spec.knob_notes or spec.args_prefix)


def list_jobs(
    specs: Sequence[JobSpec],
    config_files: Sequence[str],
    fmt: str,
    learned: Mapping[str, Needs] | None = None,
) -> None:
    """`learned`: the values `auto` needs would take now (json shows them)."""
    if fmt == "json":
        import json  # only for this format: a table is what most invocations print

        jobs = [_spec_json(s, (learned or {}).get(s.id)) for s in specs]
        print(json.dumps({"jobs": jobs}, indent=2))
        return
    console = make_console()
    dirs = Counter(Path(s.script).parts[0] + "/" for s in specs if s.script)
    origins = [f"{d} ({n})" for d, n in sorted(dirs.items())]
    origins += [f"config: {', '.join(config_files)}"] if config_files else []
    console.print(
        f"{len(specs)} job{'s' * (len(specs) != 1)} from {' · '.join(origins)}"
        "    [dim]flags: O=--output-dir E=--epochs F=--folds S=--seed[/]"
    )
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    # Only where some script speaks its own dialect: the standard flags need no translation.
    dialects = any(_has_knobs(spec) for spec in specs)
    if dialects:
        from orchestrator.report import knob_view
    resources = [asked(spec) for spec in specs]
    columns = ["job", "script", "flags", "tags", *(["resources"] * any(resources)), "notes"]
    for column in (*columns, *(["knobs"] * dialects)):
        table.add_column(column)
    for spec, resource in zip(specs, resources, strict=True):
        notes = (spec.error and f"{spec.error}: not run") or ("optional" if spec.optional else "")
        cells = [
            escape(spec.id),
            escape(spec.script or shlex.join(spec.command or ())),
            "—" if spec.error else flag_letters(spec),
            escape(" ".join(spec.tags)),
            *([escape(resource)] * any(resources)),
            f"[red]{escape(notes)}[/]" if spec.error else escape(notes),
        ]
        if dialects:
            cells.append(escape(knob_view.knob_text(spec)))
        table.add_row(*cells)
    console.print(table)


def _spec_json(spec: JobSpec, learned: Needs | None) -> dict[str, Any]:
    from orchestrator.report import knob_view  # JSON only: a table shows knobs rarely

    return {
        "id": spec.id,
        "script": spec.script,
        "command": list(spec.command) if spec.command is not None else None,
        "flags": list(spec.flags),
        "standard_flags": {
            n: declared_flag(spec, n) for n in STANDARD_FLAGS if declared_flag(spec, n)
        },
        "knobs": [knob_view.knob_json(spec, name) for name in KNOB_NAMES],
        "args_prefix": list(spec.args_prefix),
        "tags": list(spec.tags),
        "optional": spec.optional,
        "enabled": spec.enabled,
        "description": spec.description,
        "error": spec.error,
        "origin": list(spec.origin),
        "cpus": spec.cpus,
        "memory": spec.memory,
        "gpus": spec.gpus,
        **({"learned": _learned_json(learned)} if learned else {}),
    }


def _learned_json(learned: Needs) -> dict[str, dict[str, Any]]:
    """`{"memory": {"value": 974125465, "source": "auto: 812 MiB peak of run ... + 20 %"}}`."""
    values = {"cpus": learned.cpus, "memory": learned.memory}
    return {name: {"value": values[name], "source": why} for name, why in learned.learned}


def show_plan(
    plan: Plan,
    decisions: Decisions,
    fmt: str,
    verbose: bool,
    studies: Mapping[str, StudyPreview] | None = None,
) -> None:
    """Each job's command in start order, with what it needs and whether it would run.

    Jobs that would not run have their command commented out, so pasting the whole output
    into a shell runs exactly what the orchestrator would. A sweep shows its study and one
    example trial, commented out too: the sampler picks each trial's values as it goes.
    """
    levels = graph_levels(plan)
    studies = studies or {}
    if fmt == "json":
        import json

        print(json.dumps(_plan_json(plan, decisions, levels, studies), indent=2))
        return
    console = make_console()
    graphed = plan_has_graph(plan)  # once, not per job: per job it is quadratic
    for job in plan.jobs:
        notes = [f"level {levels[job.id]}"] if graphed else []
        notes += [f"needs {', '.join(job.needs)}"] if job.needs else []
        notes += [f"retries {job.retries}"] if job.retries else []
        notes += held(job)
        notes += [f"memory_limit {format_bytes(job.memory_limit)}"] if job.memory_limit else []
        notes += ["optional"] if job.optional else []
        suffix = f"  ({' · '.join(notes)})" if notes else ""
        console.print(f"[bold]# {escape(job.id)}[/]{escape(suffix)}")
        for need in job.needs_outside:
            console.print(f"[dim]# uses {escape(need)}'s output as it is on disk (--no-deps)[/]")
        for name, why in job.learned:
            console.print(f"[dim]# {name} {escape(why)}[/]")
        if job.not_runnable:
            console.print(f"[red]# not run: {escape(job.not_runnable)}[/]")
            continue
        action, reason = decision(job.id, decisions)
        _knob_comments(console, job)
        if verbose:
            for name, value in shown_env(job).items():
                console.print(f"[dim]#   {escape(name)}={escape(value)}[/]")
        study = studies.get(job.id)
        if action == "run" and study is not None:
            console.print(f"[dim]# runs: {escape(sweep_runs(study))}[/]")
            for line in sweep_preview_lines(job, study):
                console.print(f"[dim]# {escape(line)}[/]", soft_wrap=True)
        elif action == "run":
            console.print(f"[dim]# runs: {escape(reason)}[/]")
            console.print(escape(shown_command(job)), soft_wrap=True)
        else:
            console.print(f"[cyan]# {action}: {escape(reason)}[/]")
            console.print(f"[dim]# {escape(shown_command(job))}[/]", soft_wrap=True)
    if (pool := shared(plan)) is not None:
        console.print(f"\n[dim]# {escape(pool)}[/]")
    workers = f"{plan.max_workers} at a time" if plan.max_workers > 1 else "one at a time"
    counts = plan_counts(plan, decisions)
    console.print(
        f"\n{job_count(len(plan.jobs))} ({counts}), {workers} · logs → {plan.log_dir}/<job>.log"
        f" · summary → {plan.summary_dir}/training_summary_<UTC>.json · "
        "[bold]nothing has been run[/]"
    )


def job_count(count: int) -> str:
    """`1 job`, `2 jobs`."""
    return f"{count} job{'s' * (count != 1)}"


def plan_counts(plan: Plan, decisions: Decisions, run: str = "run") -> str:
    """`3 run, 1 cached, 1 cannot run`: what a run would do with the plan's jobs."""
    actions = Counter(decision(job.id, decisions)[0] for job in plan.jobs if not job.not_runnable)
    counts = [f"{n} {run if action == 'run' else action}" for action, n in actions.items()]
    blocked = sum(1 for job in plan.jobs if job.not_runnable)
    counts += [f"{blocked} cannot run"] if blocked else []
    return ", ".join(counts) or "none"


def sweep_runs(study: StudyPreview) -> str:
    """Why a sweep runs, in trials: a complete study runs none, and reports its best."""
    if study.left == 0:
        return "no trial: its study is complete (its best is reported again)"
    if study.choice.new_because is None:
        return f"{study.left} more trials of its study"
    return f"{study.left} trials of a new study"


def sweep_preview_lines(job: PlannedJob, study: StudyPreview) -> list[str]:
    """The study, the search space and one example trial's command."""
    from orchestrator.studies import search_space_text  # only a sweep's --dry-run needs it

    assert job.sweep is not None
    sweep = job.sweep
    return [
        study.text(),
        f"search {search_space_text(sweep)} · {sweep.sampler} sampler, {sweep.pruner} "
        f"pruner, {sweep.parallel} at a time",
        f"e.g. trial {study.next_trial}, with the middle of each range (the sampler picks):",
        shown_command(example_trial(job, study)),
    ]


def example_trial(job: PlannedJob, study: StudyPreview) -> PlannedJob:
    from orchestrator.execute.trial_job import trial_job  # only a sweep's --dry-run needs it
    from orchestrator.studies import example_params

    assert job.sweep is not None
    return trial_job(job, study.trials_dir, study.next_trial, example_params(job.sweep))


def decision(job_id: str, decisions: Decisions) -> tuple[str, str]:
    """("run", why) or ("cached"/"reused"/"skipped", why): what a run would do with a job."""
    reused = decisions.reused.get(job_id)
    if reused is None:
        return "run", decisions.why_run.get(job_id, "")
    return reused.status.value, reused.reason


def plan_has_graph(plan: Plan) -> bool:
    return any(job.needs for job in plan.jobs)


def graph_levels(plan: Plan) -> dict[str, int]:
    """0 for jobs that need nothing in the plan, else one more than their deepest need."""
    levels: dict[str, int] = {}
    for job in plan.jobs:  # start order: needs come first
        levels[job.id] = 1 + max((levels[n] for n in job.needs), default=-1)
    return levels


def knob_dict(knob: Knob) -> dict[str, str]:
    return {
        "knob": knob.name,
        "spelling": knob.spelling,
        "style": knob.style,
        "source": knob.source,
        "confidence": knob.confidence,
    }


def _plan_json(
    plan: Plan,
    decisions: Decisions,
    levels: Mapping[str, int],
    studies: Mapping[str, StudyPreview],
) -> dict[str, Any]:
    return {
        "output_root": plan.output_root,
        "log_dir": plan.log_dir,
        "summary_dir": plan.summary_dir,
        "max_workers": plan.max_workers,
        "resources": {
            "cpus": plan.cpus,
            "memory_bytes": plan.memory,
            "memory_source": plan.memory_source or None,
            "gpu_devices": None if plan.gpu_devices is None else list(plan.gpu_devices),
            "gpu_source": plan.gpu_source or None,
        },
        "edges": [[need, job.id] for job in plan.jobs for need in job.needs],
        "jobs": [
            {
                "id": job.id,
                "argv": [redact(arg, job.secrets) for arg in job.argv],
                "command": shown_command(job),
                "cwd": job.cwd,
                "env": shown_env(job),
                "output_dir": job.output_dir,
                "log_path": job.log_path,
                "retries": job.retries,
                "cpus": job.cpus,
                "memory_bytes": job.memory,
                "gpus": job.gpus,
                **({"learned": dict(job.learned)} if job.learned else {}),
                "optional": job.optional,
                "tags": list(job.tags),
                "needs": list(job.needs),
                "needs_outside_run": list(job.needs_outside),
                "level": levels[job.id],
                "decision": dict(
                    zip(("action", "reason"), decision(job.id, decisions), strict=True)
                ),
                "not_runnable": job.not_runnable,
                "knobs": [knob_dict(k) for k in job.knobs],
                "knobs_missing": dict(job.knobs_missing),
                **({"study": _study_json(job, studies[job.id])} if job.id in studies else {}),
            }
            for job in plan.jobs
        ],
    }


def _study_json(job: PlannedJob, study: StudyPreview) -> dict[str, Any]:
    from orchestrator.studies import search_space_text

    assert job.sweep is not None
    example = example_trial(job, study)
    return {
        "name": study.choice.name,
        "new": study.choice.new_because is not None,
        "new_because": study.choice.new_because,
        "earlier": study.choice.earlier,
        "done": study.done,
        "left": study.left,
        "trials_dir": study.trials_dir,
        "search_space": search_space_text(job.sweep),
        "store_note": study.store_note,
        "example_trial": {
            "id": example.id,
            "argv": [redact(arg, job.secrets) for arg in example.argv],
            "command": shown_command(example),
        },
    }


def shown_command(job: PlannedJob) -> str:
    """The job's command as a shell would take it, with secret values masked."""
    return redact(shlex.join(job.argv), job.secrets)


def shown_env(job: PlannedJob) -> dict[str, str]:
    return {name: redact(mask(name, value), job.secrets) for name, value in job.env}
