"""A `Comparison` as Markdown (a PR comment or GitHub's step summary), as JSON for other
tools, and in the terminal: the same verdict and tables in each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rich.markup import escape
from rich.table import Table

from orchestrator.models import Status
from orchestrator.report.console import make_console
from orchestrator.report.history.compare import (
    DURATION_CHANGE,
    KIND_ORDER,
    Comparison,
    JobChange,
    MetricChange,
    ResourceChange,
    RunRef,
)
from orchestrator.report.history.text import borderless_table, plural
from orchestrator.report.markdown import COMPARE_RESERVE, cell, cut_to, lines_size
from orchestrator.report.summary import duration_text, metric_text
from orchestrator.run_summary import encode_metric
from orchestrator.usage import format_bytes

KIND_LABEL = {
    "newly_failing": "❌ newly failing",
    "still_failing": "⚠️ still failing",
    "fixed": "✅ fixed",
    "new": "🆕 new",
    "removed": "🗑️ removed",
}
KIND_STYLE = {
    "newly_failing": "red",
    "still_failing": "yellow",
    "fixed": "green",
    "new": "cyan",
    "removed": "dim",
}


def verdict_line(comparison: Comparison) -> str:
    """`❌ 2 regressions · 1 fixed · 3 metrics better`: the comparison in one line."""
    regressions = len(comparison.regressions)
    kinds = Counter(job.kind for job in comparison.jobs)
    verdicts = Counter(m.verdict for job in comparison.jobs for m in job.metrics)
    parts = [f"❌ {plural(regressions, 'regression')}" if regressions else "✅ no regressions"]
    parts += [f"{kinds[k]} {k.replace('_', ' ')}" for k in KIND_ORDER[:-1] if kinds[k]]
    parts += [f"{plural(verdicts[v], 'metric')} {v}" for v in ("better", "worse") if verdicts[v]]
    moved = Counter(r.delta > 0 for r, _ in comparison.changed_resources)
    parts += [f"{plural(moved[up], 'resource')} {word}" for up, word in GROWTH if moved[up]]
    return " · ".join(parts)


#: How the verdict line words resources that changed notably, in this order.
GROWTH = ((True, "grew"), (False, "shrank"))


def _change_text(change: MetricChange) -> str:
    """`-0.05 (-5.6%) ↓`: the change, its size and its direction."""
    if not change.finite:  # no number measures the step to or from NaN
        return "no longer finite" if change.verdict == "worse" else "finite again"
    relative = f" ({change.relative:+.1%})" if abs(change.base) >= 1e-12 else ""
    return f"{change.delta:+.4g}{relative} {'↑' if change.delta > 0 else '↓'}"


RESOURCE_LABEL = {"peak_memory": "peak memory", "cpu_time": "CPU time"}


def _amount(change: ResourceChange, value: float) -> str:
    if change.resource == "peak_memory":
        return format_bytes(int(value))
    return duration_text(value)


def _growth_text(change: ResourceChange) -> str:
    """`+212 MiB (+41%)`: the change in the resource's own unit, and its size."""
    sign = "+" if change.delta >= 0 else "-"
    relative = f" ({change.relative:+.0%})" if change.base > 0 else ""
    return f"{sign}{_amount(change, abs(change.delta))}{relative}"


def _note(job: JobChange) -> str:
    failing = job.head_status is not None and not Status(job.head_status).ok
    note = (job.reason or "") if failing else ""
    return f"{note} (optional)".strip() if job.optional else note


# ----------------------------------------------------------------------------- Markdown
STATUS_HEAD = ("| job | change | base | head | note |", "|---|---|---|---|---|")
METRIC_HEAD = (
    "| job | metric | base | head | delta | regression |",
    "|---|---|---:|---:|---|---|",
)
RESOURCE_HEAD = (
    "| job | resource | base | head | change | regression |",
    "|---|---|---:|---:|---|---|",
)
DURATION_HEAD = (
    f"**Run time changed by more than {DURATION_CHANGE:.0%}**",
    "",
    "| job | base | head | change |",
    "|---|---:|---:|---:|",
)


def compare_markdown(comparison: Comparison, *, limit: int = COMPARE_RESERVE) -> str:
    """The comparison for a PR comment or GitHub's step summary, headed to sit under a run's
    own summary: verdict, status changes, metric changes, notable run-time changes.

    At most `limit` bytes, the room the run's own report leaves it in the step summary:
    rows are left out from the least urgent end (regressions come first) and counted.
    """
    head = [
        "### Compared with the previous run",
        "",
        verdict_line(comparison),
        "",
        f"Base {_run_ref(comparison.base)} → head {_run_ref(comparison.head)}",
    ]
    status_table = [
        f"| `{cell(job.job)}` | {KIND_LABEL[job.kind]} | {job.base_status or '—'} | "
        f"{job.head_status or '—'} | {cell(_note(job))} |"
        for job in comparison.changed_statuses
    ]
    metric_table = [
        f"| `{cell(m.job)}` | {cell(m.metric)} | {metric_text(m.base)} | {metric_text(m.head)} | "
        f"{_change_text(m)} {'✅' if m.verdict == 'better' else '❌'} | "
        f"{'**regression**' if regressed else ''} |"
        for m, regressed in comparison.changed_metrics
    ]
    resource_table = [
        f"| `{cell(r.job)}` | {RESOURCE_LABEL[r.resource]} | {_amount(r, r.base)} | "
        f"{_amount(r, r.head)} | {_growth_text(r)} {'❌' if r.delta > 0 else '✅'} | "
        f"{f'**regression** (over +{r.tolerance:.0%})' if regressed else ''} |"
        for r, regressed in comparison.changed_resources
    ]
    duration_table = [
        f"| `{cell(job.job)}` | {duration_text(job.base_duration or 0)} | "
        f"{duration_text(job.head_duration or 0)} | {(job.duration_ratio or 0) - 1:+.0%} |"
        for job in comparison.changed_durations
    ]
    tables = (
        (STATUS_HEAD, status_table),
        (METRIC_HEAD, metric_table),
        (RESOURCE_HEAD, resource_table),
        (DURATION_HEAD, duration_table),
    )
    return _fit_tables(head, tables, limit)


def _run_ref(run: RunRef) -> str:
    commit = run.git_commit
    return f"`{run.started_at}`" + (f" (commit `{commit[:7]}`)" if commit else "")


def _fit_tables(
    head: list[str], tables: Sequence[tuple[Sequence[str], list[str]]], limit: int
) -> str:
    """`head`, then each table's rows in order until one does not fit: it and all after it
    are left out (a later row is never more urgent) and a note counts them."""
    total = sum(len(rows) for _, rows in tables)
    room = limit - lines_size([*head, "", _left_out_note(total)])
    lines, left_out = list(head), 0
    for table_head, rows in tables:
        cost, kept = lines_size(["", *table_head]), 0
        for row in rows:
            if left_out or cost + lines_size([row]) > room:
                left_out += 1
                continue
            cost += lines_size([row])
            kept += 1
        if kept:
            lines += ["", *table_head, *rows[:kept]]
            room -= cost
    if left_out:
        lines += ["", _left_out_note(left_out)]
    text = "\n".join(lines) + "\n"
    return text if len(text.encode()) <= limit else cut_to(text, limit)


def _left_out_note(rows: int) -> str:
    return (
        f"> {plural(rows, 'more row')} left out to fit GitHub's step summary; "
        "`run-all-training compare --format json` lists them all."
    )


# --------------------------------------------------------------------------------- JSON
def compare_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON values, derived numbers included, for other tools."""
    return {
        "base": asdict(comparison.base),
        "head": asdict(comparison.head),
        "verdict": verdict_line(comparison),
        "regressions": [_regression_json(r) for r in comparison.regressions],
        "jobs": [_job_json(job) for job in comparison.jobs],
    }


def _regression_json(regression: JobChange | MetricChange | ResourceChange) -> dict[str, Any]:
    """What regressed: a job (`newly_failing`), a `metric` or a `resource`, named by
    `metric` or `resource` (the other None), and by how much."""
    if isinstance(regression, JobChange):
        kind, metric, resource, relative = "newly_failing", None, None, None
    elif isinstance(regression, ResourceChange):
        kind, metric, resource = "resource", None, regression.resource
        relative = encode_metric(regression.relative)
    else:
        kind, metric, resource = "metric", regression.metric, None
        relative = encode_metric(regression.relative)
    return {
        "job": regression.job,
        "kind": kind,
        "metric": metric,
        "resource": resource,
        "relative": relative,
    }


def _job_json(job: JobChange) -> dict[str, Any]:
    return {
        "id": job.job,
        "kind": job.kind,
        "base_status": job.base_status,
        "head_status": job.head_status,
        "optional": job.optional,
        "reason": job.reason,
        "duration": {
            "base": job.base_duration,
            "head": job.head_duration,
            "delta": job.duration_delta,
            "ratio": job.duration_ratio,
        },
        "metrics": [
            {
                "metric": m.metric,
                # The summary's own encoding of NaN and the infinities: valid JSON.
                "base": encode_metric(m.base),
                "head": encode_metric(m.head),
                "delta": encode_metric(m.delta),
                "relative": encode_metric(m.relative),
                "direction": "higher" if m.higher_is_better else "lower",
                "verdict": m.verdict,
                "tolerance": m.tolerance,
                "regression": m.regression,
            }
            for m in job.metrics
        ],
        # Bytes (peak_memory) and CPU seconds (cpu_time), as the summaries hold them.
        "resources": [
            {
                "resource": r.resource,
                "base": r.base,
                "head": r.head,
                "delta": r.delta,
                "relative": r.relative,
                "tolerance": r.tolerance,
                "noise": r.noise,
                "regression": r.regression,
            }
            for r in job.resources
        ],
    }


# ----------------------------------------------------------------------------- terminal
def print_compare(comparison: Comparison) -> None:
    """The comparison in the terminal: the same tables as the Markdown, in colour."""
    console = make_console()
    style = "red" if comparison.regressions else "green"
    console.print(f"[bold {style}]{escape(verdict_line(comparison))}[/]")
    base, head = comparison.base.started_at, comparison.head.started_at
    console.print(f"[dim]base {escape(base)} → head {escape(head)}[/]")
    tables = (
        _status_table(comparison.changed_statuses),
        _metric_table(comparison.changed_metrics),
        _resource_table(comparison.changed_resources),
        _duration_table(comparison.changed_durations),
    )
    for table in tables:
        if table.row_count:
            console.print()
            console.print(table)


def _status_table(jobs: Sequence[JobChange]) -> Table:
    table = borderless_table(
        ("job", "left"), ("change", "left"), ("base", "left"), ("head", "left")
    )
    table.add_column("note")
    for job in jobs:
        table.add_row(
            escape(job.job),
            f"[{KIND_STYLE[job.kind]}]{job.kind.replace('_', ' ')}[/]",
            job.base_status or "—",
            job.head_status or "—",
            escape(_note(job)),
        )
    return table


def _metric_table(metrics: Sequence[tuple[MetricChange, bool]]) -> Table:
    table = borderless_table(
        ("job", "left"), ("metric", "left"), ("base", "right"), ("head", "right")
    )
    table.add_column("delta", justify="right")
    table.add_column("")
    for m, regressed in metrics:
        colour = "green" if m.verdict == "better" else "red"
        table.add_row(
            escape(m.job),
            escape(m.metric),
            metric_text(m.base),
            metric_text(m.head),
            f"[{colour}]{escape(_change_text(m))}[/]",
            "[bold red]regression[/]" if regressed else "",
        )
    return table


def _resource_table(resources: Sequence[tuple[ResourceChange, bool]]) -> Table:
    table = borderless_table(
        ("job", "left"), ("resource", "left"), ("base", "right"), ("head", "right")
    )
    table.add_column("change", justify="right")
    table.add_column("")
    for r, regressed in resources:
        table.add_row(
            escape(r.job),
            RESOURCE_LABEL[r.resource],
            _amount(r, r.base),
            _amount(r, r.head),
            f"[{'red' if r.delta > 0 else 'green'}]{escape(_growth_text(r))}[/]",
            f"[bold red]regression[/] (over +{r.tolerance:.0%})" if regressed else "",
        )
    return table


def _duration_table(jobs: Sequence[JobChange]) -> Table:
    table = borderless_table(("job", "left"), ("base", "right"), ("head", "right"))
    table.add_column("time", justify="right")
    for job in jobs:
        ratio = job.duration_ratio or 0
        table.add_row(
            escape(job.job),
            duration_text(job.base_duration or 0),
            duration_text(job.head_duration or 0),
            f"[{'red' if ratio > 1 else 'green'}]{ratio - 1:+.0%}[/]",
        )
    return table
