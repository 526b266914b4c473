"""One past run as it was reported: its Markdown, or its final table with log tails.

Its model is the summary itself: `show` adds nothing to what the run recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.report.console import STATUS_STYLE, make_console
from orchestrator.report.history.runs import attempts_by_job, owner
from orchestrator.report.history.text import borderless_table
from orchestrator.report.logs import tail_lines, written_by_run
from orchestrator.report.markdown import gates_text, is_failure, metrics_text, render
from orchestrator.report.resource_chart import MAX_BARS, bar_labels
from orchestrator.report.resources import (
    JobUsage,
    methods_note,
    resource_cells,
    resource_columns,
    usages_by_job,
)
from orchestrator.report.summary import duration_text
from orchestrator.run_summary import JobRecord, RunSummary, parse_iso
from orchestrator.usage import format_bytes

#: The longest bar of `show`'s resource charts, in characters.
BAR_WIDTH = 40


def show_markdown(summary: RunSummary, base: Path) -> str:
    """The same Markdown the run wrote, so `show` on an old summary matches its artifact."""
    return render(summary, base)


def print_show(summary: RunSummary, base: Path, *, tail: int = 20) -> None:
    """One past run as its final table showed it, with the failing jobs' log tails
    (`log_path` is relative to `base` unless absolute)."""
    console = make_console()
    commit = summary.git_commit
    console.print(
        f"[dim]run {escape(summary.started_at)}"
        f"{f' on {escape(summary.host)}' if summary.host else ''}"
        f"{f' · commit {escape(commit[:7])}' if commit else ''}[/]"
    )
    jobs = [job for job in summary.jobs if not job.is_trial]
    usages = usages_by_job(summary.jobs)
    console.print()
    console.print(_job_table(summary, jobs, usages))
    if usages:
        console.print(f"[dim]{escape(methods_note(list(usages.values())))}[/]")
    _print_charts(console, usages)
    ended = parse_iso(summary.ended_at)
    for job in jobs:
        if not is_failure(job) or not job.attempts:
            continue
        if written_by_run(base / job.log_path, summary.started, ended):
            _print_tail(console, job, tail_lines(base / job.log_path, tail))
        else:
            console.print(
                f"\n[red]── {escape(job.id)}[/]: {escape(job.reason or job.status.value)} · "
                f"{escape(job.log_path)} is a later run's now: no tail"
            )
    exit_style = "green" if summary.exit_code == 0 else "red"
    console.print(
        f"\n{escape(_totals(jobs))} · {duration_text(summary.duration_s)} · "
        f"[{exit_style}]exit {summary.exit_code}[/]"
    )


def _job_table(
    summary: RunSummary, jobs: Sequence[JobRecord], usages: Mapping[str, JobUsage]
) -> Table:
    """A row per job, its sweep trials' tries, time and resources counted in its row."""
    attempts = attempts_by_job(summary)
    trials = Counter(owner(job) for job in summary.jobs if job.is_trial)
    columns = resource_columns(usages.values())
    table = borderless_table(
        ("job", "left"),
        ("status", "left"),
        ("tries", "right"),
        ("time", "right"),
        *((column, "right") for column in columns),
    )
    table.add_column("headline")
    table.add_column("gates")
    for job in jobs:
        _, style = STATUS_STYLE[job.status]
        optional = " (optional)" if job.optional else ""
        note = f" · {trials[job.id]} trials" if trials[job.id] else ""
        runs = attempts.get(job.id, [])
        table.add_row(
            escape(job.id),
            f"[{style}]{job.status.value}[/]{optional}",
            str(len(runs)),
            duration_text(sum(attempt.duration_s for attempt in runs)),
            *resource_cells(usages.get(job.id), columns),
            escape(metrics_text(job) + note),
            escape(gates_text(job)),
        )
    return table


def _print_charts(console: Console, usages: Mapping[str, JobUsage]) -> None:
    """Peak memory and CPU time as bars, largest first, as the step summary draws them:
    with two jobs or more, at most `MAX_BARS` of them, long ids cut as there."""
    memory = [(job, float(u.peak_memory_bytes)) for job, u in usages.items() if u.peak_memory_bytes]
    cpu = [(job, u.cpu_s) for job, u in usages.items() if u.cpu_s is not None]
    charts: tuple[tuple[str, list[tuple[str, float]], Callable[[float], str]], ...] = (
        ("peak memory", memory, lambda value: format_bytes(int(value))),
        ("CPU time", cpu, duration_text),
    )
    for title, values, text in charts:
        if len(values) < 2:
            continue
        ranked = sorted(values, key=lambda item: -item[1])
        shown = ranked[:MAX_BARS]
        scope = f"top {len(shown)} of {len(ranked)} jobs" if len(ranked) > len(shown) else "per job"
        console.print(f"\n[bold]{title}[/] {scope}")
        table = borderless_table(("", "left"), ("", "left"), ("", "right"))
        table.show_header = False
        largest = shown[0][1] or 1.0
        for label, (_, value) in zip(bar_labels([job for job, _ in shown]), shown, strict=True):
            bar = "█" * max(1, round(BAR_WIDTH * value / largest)) if value else ""
            table.add_row(f"  {escape(label)}", f"[cyan]{bar}[/]", text(value))
        console.print(table)


def _print_tail(console: Console, job: JobRecord, lines: Sequence[str]) -> None:
    console.print(
        f"\n[red]── {escape(job.id)}[/]: {escape(job.reason or job.status.value)} · "
        f"last {len(lines)} lines of {escape(job.log_path)}"
    )
    for line in lines or ["(log is empty or missing)"]:
        console.print(f"   {escape(line)}", style="dim")


def _totals(jobs: Sequence[JobRecord]) -> str:
    """`3 succeeded · 1 optional failed`, counted as the run's final line counts them."""
    counts: Counter[str] = Counter()
    for job in jobs:
        key = job.status.value.replace("_", " ")
        optional_failure = job.optional and not job.status.ok
        counts[f"optional {key}" if optional_failure else key] += 1
    return " · ".join(f"{n} {key}" for key, n in counts.items())
