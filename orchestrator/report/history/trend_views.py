"""A `Trend` as Mermaid line charts (GitHub draws them) and as terminal sparklines."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.markup import escape

from orchestrator.report.console import make_console
from orchestrator.report.history.text import borderless_table, plural
from orchestrator.report.history.trend import CPU_TIME, PEAK_MEMORY, JobTrend, Series, Trend
from orchestrator.report.markdown import one_line
from orchestrator.report.resource_chart import mermaid_number, mermaid_text
from orchestrator.report.summary import duration_text, metric_text
from orchestrator.usage import format_bytes

#: Each resource series' axis title, and what its values are divided by to be in that unit.
RESOURCE_AXES = {PEAK_MEMORY: ("MiB", float(1 << 20)), CPU_TIME: ("seconds", 1.0)}
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
NOT_FINITE_MARK = "!"


# ----------------------------------------------------------------------------- Markdown
def trend_markdown(trend: Trend) -> str:
    """Per job, a Mermaid `xychart-beta` line chart per headline metric, one of run time,
    and one each of peak memory (MiB) and CPU time (seconds) where runs measured them.

    One chart per metric, not one line each in a shared chart: xychart draws no legend,
    and accuracy (~0.9) beside rmse (~50) would flatten one of them. Runs where a value
    is missing are left out of that chart rather than filled in, so no point is invented;
    each chart therefore has its own x-axis.
    """
    labels = trend.labels
    if not labels:
        return "### Trend\n\nNo run summaries to chart.\n"
    lines = [
        f"### Trend over {plural(len(labels), 'run')}",
        "",
        f"From {labels[0]} to {labels[-1]} (UTC); runs without a value are left out.",
    ]
    for job in trend.jobs:
        charts = [
            xychart(f"{job.job}: {series.name}", series.name, labels, series.values)
            for series in job.metrics
        ]
        charts.append(xychart(f"{job.job}: run time", "seconds", labels, job.durations.values))
        for series in job.resources:
            axis, size = RESOURCE_AXES[series.name]
            values = [None if v is None else v / size for v in series.values]
            charts.append(xychart(f"{job.job}: {series.name}", axis, labels, values))
        drawn = [chart for chart in charts if chart]
        if drawn:
            # On one line: a line break in a job id would end the heading and could open a fence.
            lines += ["", f"#### `{one_line(job.job)}`"]
            lines += [line for chart in drawn for line in ["", *chart]]
    return "\n".join(lines) + "\n"


def xychart(
    title: str, axis: str, labels: Sequence[str], values: Sequence[float | None]
) -> list[str]:
    """A fenced Mermaid line chart of the runs that have a (finite) value; [] if none has."""
    points = [
        (label, v)
        for label, v in zip(labels, values, strict=True)
        if v is not None and math.isfinite(v)
    ]
    if not points:
        return []
    return [
        "```mermaid",
        "xychart-beta",
        f"    title {mermaid_text(title)}",
        f"    x-axis [{', '.join(mermaid_text(label) for label, _ in points)}]",
        f"    y-axis {mermaid_text(axis)}",
        f"    line [{', '.join(mermaid_number(v) for _, v in points)}]",
        "```",
    ]


# ----------------------------------------------------------------------------- terminal
def sparkline(values: Sequence[float | None]) -> str:
    """One block per run, scaled between the series' own min and max (a flat series sits
    in the middle); a blank where a run has no value, so columns line up across rows, and
    `NOT_FINITE_MARK` where its value is NaN or infinite."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    low, high = min(present, default=0.0), max(present, default=0.0)
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        " "
        if v is None
        else NOT_FINITE_MARK
        if not math.isfinite(v)
        else SPARK_BLOCKS[round((v - low) / (high - low) * top) if high > low else top // 2]
        for v in values
    )


def _latest_text(job: JobTrend, series: Series, value: float) -> str:
    """A value as its own kind is written: a time, an amount of memory, a metric (whose
    name may be anything, "peak memory" too)."""
    resource = any(series is r for r in job.resources)
    if series is job.durations or (resource and series.name == CPU_TIME):
        return duration_text(value)
    if resource and series.name == PEAK_MEMORY:
        return format_bytes(int(value))
    return metric_text(value)


def print_trend(trend: Trend) -> None:
    """A sparkline per job and metric, oldest run on the left, with the latest value."""
    console = make_console()
    labels = trend.labels
    if not labels:
        console.print("no run summaries to chart")
        return
    console.print(
        f"{plural(len(labels), 'run')} from {labels[0]} to {labels[-1]} (UTC), oldest on the left"
    )
    table = borderless_table(("job", "left"), ("metric", "left"), ("trend", "left"))
    table.add_column("latest", justify="right")
    for job in trend.jobs:
        for series in (*job.metrics, job.durations, *job.resources):
            latest = next((v for v in reversed(series.values) if v is not None), None)
            table.add_row(
                escape(job.job),
                escape(series.name),
                f"[cyan]{sparkline(series.values)}[/]",
                "—" if latest is None else _latest_text(job, series, latest),
            )
    console.print()
    console.print(table)
