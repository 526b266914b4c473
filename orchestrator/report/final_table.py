"""The table a run ends on: one row per job, the verdict, the exit code, the summary's path.

A sweep is one row with its trials folded in, and a long run keeps every job that did
not succeed but only the first successes, so the end of a run fits on a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.models import Attempt, JobResult, Status
from orchestrator.report.console import STATUS_STYLE
from orchestrator.report.resources import memory_text, usage_over
from orchestrator.report.summary import duration_text, metric_text, ranked_metrics
from orchestrator.run_summary import is_trial

if TYPE_CHECKING:
    from orchestrator.events import RunFinished


def headline(result: JobResult) -> str:
    """What a job's line says: its headline metric, or why it did not succeed."""
    metrics = dict(result.metrics)
    if not result.status.ok:
        text = result.reason or result.status.value
        return f"{text} (optional)" if result.job.optional else text
    ranked = ranked_metrics(metrics, result.job.headline)
    text = " ".join(f"{name} {metric_text(value)}" for name, value in ranked[:1])
    # A job's reason on success is a note on its metrics.json, worth a ⚠; a sweep's names
    # its best trial, which its metrics already are: no warning on every good sweep.
    if result.status is Status.SUCCEEDED and result.reason and result.job.sweep is None:
        text += f" ⚠ {result.reason}"
    return text


def sweep_trials(results: Sequence[JobResult]) -> dict[str, list[JobResult]]:
    """Each sweep's trial results, by the sweep's id."""
    trials: dict[str, list[JobResult]] = {}
    for result in results:
        for tag in result.job.tags:
            if tag.startswith("sweep:"):
                trials.setdefault(tag.removeprefix("sweep:"), []).append(result)
    return trials


#: Past this many jobs the final table keeps every job that did not succeed and only the
#: first successes: a 2,000-job run should end on something readable, not a scroll.
FINAL_TABLE_ROWS = 40


def final_table(console: Console, event: RunFinished) -> None:
    """Every job's status, tries, time, peak memory and CPU (where measured) and headline
    (a sweep with its trials folded in), then the verdict, the exit code and where the
    summary is."""
    results, exit_code = event.results, event.exit_code
    measured = any(a.usage is not None for r in results for a in r.attempts)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column, justify in (
        ("job", "left"),
        ("status", "left"),
        ("tries", "right"),
        ("time", "right"),
        *((("peak mem", "right"), ("cpu", "right")) if measured else ()),
        ("headline", "left"),
    ):
        # A figure is never split over two lines (`548` over `MiB`) on a narrow terminal.
        table.add_column(column, justify=justify, no_wrap=column in {"peak mem", "cpu", "time"})
    trials = sweep_trials(results)
    shown = [r for r in results if not is_trial(r.job.tags)]
    for result in _rows_worth_showing(shown):
        _, style = STATUS_STYLE[result.status]
        runs = trials.get(result.job.id, [result])
        note = f" · {len(runs)} trials" if result.job.id in trials else ""
        table.add_row(
            escape(result.job.id),
            f"[{style}]{result.status.value}[/]",
            str(sum(len(r.attempts) for r in runs)),
            duration_text(sum(a.duration for r in runs for a in r.attempts)),
            *(usage_cells([a for r in runs for a in r.attempts]) if measured else ()),
            escape(headline(result) + note),
        )
    console.print()
    console.print(table)
    hidden = len(shown) - table.row_count
    if hidden:
        console.print(f"[dim]… and {hidden} more successful jobs (every job is in the summary)[/]")
    counts: dict[str, int] = {}
    for result in shown:
        key = result.status.value.replace("_", " ")
        if result.job.optional and not result.status.ok:
            key = f"optional {key}"
        counts[key] = counts.get(key, 0) + 1
    verdict = " · ".join(f"{n} {k}" for k, n in counts.items())
    style = "green" if exit_code == 0 else "red"
    duration = duration_text(event.at - event.started_at)
    console.print(f"\n{verdict} · {duration} · [{style}]exit {exit_code}[/]")
    if event.summary_path is not None:
        console.print(f"summary: {event.summary_path}")


def usage_cells(attempts: Sequence[Attempt]) -> tuple[str, str]:
    """The most memory any of the attempts took, and their CPU time over their wall time
    (as `resources.usage_over` counts them, the same as every other report)."""
    measured = [(a.duration, a.usage) for a in attempts if a.usage is not None]
    if not measured:
        return "", ""
    usage = usage_over(measured)
    percent = usage.cpu_percent
    return memory_text(usage.peak_memory_bytes), "" if percent is None else f"{percent:.0f}%"


def _rows_worth_showing(results: Sequence[JobResult]) -> list[JobResult]:
    """Every job that did not succeed, and successes while there is room, in plan order."""
    if len(results) <= FINAL_TABLE_ROWS:
        return list(results)
    room = FINAL_TABLE_ROWS - sum(not r.status.ok for r in results)
    rows = []
    for result in results:
        if not result.status.ok:
            rows.append(result)
        elif room > 0:
            rows.append(result)
            room -= 1
    return rows
