"""`--list` and `--dry-run` as Markdown: what a run would do, for a GitHub step summary.

A dispatch that only previews has no run report to show; its step summary is this.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from orchestrator.models import JobSpec, Plan
from orchestrator.report.listing import (
    decision,
    example_trial,
    flag_letters,
    job_count,
    plan_counts,
    shown_command,
    sweep_runs,
)
from orchestrator.report.markdown import cell

if TYPE_CHECKING:
    from orchestrator.decide import Decisions
    from orchestrator.studies import StudyPreview


def list_markdown(specs: Sequence[JobSpec], config_files: Sequence[str]) -> str:
    origin = f" · config: {', '.join(config_files)}" if config_files else ""
    rows = [
        f"## 📋 {len(specs)} job{'s' * (len(specs) != 1)} found{cell(origin)} · nothing was run",
        "",
        "Flags: O=`--output-dir` E=`--epochs` F=`--folds` S=`--seed`",
        "",
        "| job | script | flags | tags | notes |",
        "|---|---|---|---|---|",
    ]
    for spec in specs:
        notes = (spec.error and f"⚠️ {spec.error}: not run") or ("optional" if spec.optional else "")
        script = spec.script or shlex.join(spec.command or ())
        flags = "—" if spec.error else flag_letters(spec)
        cells = (f"`{spec.id}`", f"`{script}`", flags, " ".join(spec.tags), notes)
        rows.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def plan_markdown(
    plan: Plan, decisions: Decisions, studies: Mapping[str, StudyPreview] | None = None
) -> str:
    """The verdict-like line first, then each job's command in start order."""
    workers = f"{plan.max_workers} at a time" if plan.max_workers > 1 else "one at a time"
    counts = plan_counts(plan, decisions, "would run")
    lines = [
        f"## 📝 Dry run: {job_count(len(plan.jobs))} ({counts}), {workers} · nothing was run",
        "",
        "| job | would | why | command |",
        "|---|---|---|---|",
    ]
    for job in plan.jobs:
        action, reason = (
            ("not run", job.not_runnable) if job.not_runnable else decision(job.id, decisions)
        )
        command = shown_command(job)
        study = (studies or {}).get(job.id)
        if study is not None and action == "run":
            reason = f"{sweep_runs(study)} · {study.text()}"
            command = f"e.g. {shown_command(example_trial(job, study))}"
        cells = (f"`{job.id}`", action, reason, f"`{command}`")
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    lines += ["", f"logs → `{plan.log_dir}/<job>.log` · summary → `{plan.summary_dir}/`"]
    return "\n".join(lines) + "\n"
