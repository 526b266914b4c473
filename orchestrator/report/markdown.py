"""`summaries/summary.md`, also appended to GitHub's step summary: the run in five seconds.

A verdict line, one table row per job (with its peak memory and CPU time where measured),
bar charts of those per job (`resource_chart.py`), failing jobs' log tails folded in
`<details>`, and a Mermaid gantt of when each job ran (GitHub renders it; `timeline.py`
draws it), built from the typed summary alone so a merged or rebuilt summary renders the
same way. It is cut to fit GitHub's step summary limit, least important parts first.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from orchestrator.models import Status
from orchestrator.report.logs import tail_lines, written_by_run
from orchestrator.report.resource_chart import resource_charts
from orchestrator.report.resources import (
    JobUsage,
    methods_note,
    resource_cells,
    resource_columns,
    usages_by_job,
)
from orchestrator.report.summary import (
    duration_text,
    higher_is_better,
    metric_text,
    ranked_metrics,
)
from orchestrator.report.timeline import timeline
from orchestrator.run_summary import JobRecord, RunSummary, parse_iso

#: GitHub shows no step summary over 1 MiB: this is the size of one step's whole file.
GITHUB_STEP_SUMMARY_MAX = 1024 * 1024
#: Room `render` leaves in the step summary for the comparison with the previous run,
#: which the workflow appends after it; `compare_views.compare_markdown` keeps to it.
COMPARE_RESERVE = 64 * 1024
#: The most `render` writes, so that the report plus the comparison fit GitHub's limit.
STEP_SUMMARY_LIMIT = GITHUB_STEP_SUMMARY_MAX - COMPARE_RESERVE
ICONS = {
    Status.SUCCEEDED: "✅",
    Status.FAILED: "❌",
    Status.TIMED_OUT: "⏱️",
    Status.OUT_OF_MEMORY: "💥",
    Status.CANCELLED: "⏹️",
    Status.SKIPPED: "⏭️",
    Status.GATE_FAILED: "🚧",
    Status.CACHED: "♻️",
    Status.REUSED: "♻️",
    Status.PRUNED: "✂️",
}
HEADLINE_METRICS = 3
#: A job reports metrics in these states; in the others its reason says why it has none.
SCORED = {Status.SUCCEEDED, Status.GATE_FAILED, Status.CACHED, Status.REUSED}
FAILURES = {
    Status.FAILED,
    Status.TIMED_OUT,
    Status.OUT_OF_MEMORY,
    Status.GATE_FAILED,
    Status.CANCELLED,
}
_BACKTICKS = re.compile("`+")


class Shrink(NamedTuple):
    """How much of the optional parts a rendering keeps."""

    tail_count: int  # log lines shown per failing job
    extras: bool  # matrix and sweep tables
    charts: bool  # the per-job resource charts
    timeline: bool


#: What gives way, in this order, when the report is over its limit: log tails shrink,
#: then the matrix and sweep tables go, then the resource charts (the table keeps their
#: figures), then the timeline.
SHRINK_STEPS = (
    Shrink(50, extras=True, charts=True, timeline=True),
    Shrink(10, extras=True, charts=True, timeline=True),
    Shrink(0, extras=True, charts=True, timeline=True),
    Shrink(0, extras=False, charts=True, timeline=True),
    Shrink(0, extras=False, charts=False, timeline=True),
    Shrink(0, extras=False, charts=False, timeline=False),
)
ARTIFACTS_NOTE = "The run's artifacts (summaries/, logs/) have everything."


def render(summary: RunSummary, base: Path, *, limit: int = STEP_SUMMARY_LIMIT) -> str:
    """The Markdown in at most `limit` bytes, giving way least where it matters most.

    The verdict line comes first and always stays; the job table (failing rows last to go)
    outlasts the timeline, which outlasts log tails and matrix and sweep tables. A note
    under the verdict says what was cut, so a reader knows to open the artifacts.
    """
    # A job with no attempt (a sweep, a cancelled one never started) wrote no log this
    # run: what its path holds is an earlier run's, and would be shown as this failure's.
    failures = [job for job in summary.jobs if is_failure(job) and _logged(summary, job, base)]
    most = SHRINK_STEPS[0].tail_count
    tails = [(job, tail_lines(base / job.log_path, most)) for job in failures]
    for step in SHRINK_STEPS:
        text = _document(summary, tails, step)
        if len(text.encode()) <= limit:
            return text
    return _table_only(summary, limit)


def _shrunk_note(step: Shrink) -> str | None:
    if step == SHRINK_STEPS[0]:
        return None
    count = step.tail_count
    cuts = [f"log tails cut to {count} lines" if count else "log tails left out"]
    cuts += [] if step.extras else ["matrix and sweep tables left out"]
    cuts += [] if step.charts else ["resource charts left out"]
    cuts += [] if step.timeline else ["timeline left out"]
    return f"> Shortened to fit GitHub's 1 MiB step summary: {', '.join(cuts)}. {ARTIFACTS_NOTE}"


def _document(
    summary: RunSummary, tails: Sequence[tuple[JobRecord, list[str]]], step: Shrink
) -> str:
    jobs = summary.jobs
    note = _shrunk_note(step)
    links = mlflow_links(summary)
    usages = usages_by_job(jobs)
    table = job_table(jobs, usages, links)
    parts = [verdict(summary), "", *([note, ""] if note else []), *table]
    if usages:
        parts += ["", methods_note(list(usages.values()))]
    if step.charts:
        parts += resource_charts(list(usages.items()))
    if step.extras:
        parts += [*matrix_tables(jobs), *sweep_tables(jobs)]
    if step.tail_count:
        count = step.tail_count
        parts += [line for job, lines in tails for line in _log_tail(job, lines[-count:])]
    if step.timeline and any(job.attempts for job in jobs):
        parts += ["", *timeline(summary)]
    return "\n".join(parts) + "\n"


def _table_only(summary: RunSummary, limit: int) -> str:
    """The verdict and as many job table rows as fit, failing jobs' rows before others'.

    Rows keep the table's order; what is left out is counted in the note. Only a limit too
    small for the verdict itself cuts text mid-line, to keep the promise of `limit` bytes.
    """
    table_head, job_rows = _job_rows(summary.jobs, usages_by_job(summary.jobs))
    rows = [(is_failure(job), row) for job, row in job_rows]
    head = [verdict(summary), ""]
    # The note is sized for the largest counts it can hold, so it still fits once written.
    room = limit - lines_size([*head, _table_note(len(rows), len(rows)), "", *table_head])
    kept: set[int] = set()
    for index in sorted(range(len(rows)), key=lambda i: not rows[i][0]):
        if lines_size([rows[index][1]]) > room:
            break
        room -= lines_size([rows[index][1]])
        kept.add(index)
    left_out = [failing for index, (failing, _) in enumerate(rows) if index not in kept]
    table = [*table_head, *(row for index, (_, row) in enumerate(rows) if index in kept)]
    text = "\n".join([*head, _table_note(len(left_out), sum(left_out)), "", *table]) + "\n"
    return text if len(text.encode()) <= limit else cut_to(text, limit)


def _table_note(left_out: int, failing: int) -> str:
    rows = f", less {left_out} rows ({failing} failing)" if left_out else ""
    return (
        f"> Shortened to fit GitHub's 1 MiB step summary: only the job table{rows}. "
        + ARTIFACTS_NOTE
    )


def lines_size(lines: Sequence[str]) -> int:
    """Bytes the lines take in a document, each with its newline."""
    return sum(len(line.encode()) + 1 for line in lines)


def cut_to(text: str, limit: int) -> str:
    """The first `limit` bytes of the text, never half a character."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def verdict(summary: RunSummary) -> str:
    code = summary.exit_code
    icon = "✅" if code == 0 else "❌"
    jobs = [job for job in summary.jobs if not job.is_trial]
    tally = Counter(job.status for job in jobs)
    counts = (
        " · ".join(f"{tally[s]} {s.value.replace('_', ' ')}" for s in Status if tally[s])
        or "no jobs"
    )
    trials = len(summary.jobs) - len(jobs)
    counts += f" (+{trials} sweep trials)" if trials else ""
    interrupted = f" · interrupted by {summary.interrupted_by}" if summary.interrupted_by else ""
    return (
        f"## {icon} Training run: {counts} · {duration_text(summary.duration_s)}"
        f"{interrupted} · exit {code}"
    )


def job_table_head(resources: Sequence[str]) -> tuple[str, str]:
    """The job table's header, with the resource columns a run measured (see
    `resources.resource_columns`) between the run time and the metrics."""
    names = ["job", "status", "tries", "time", *resources, "metrics", "gates"]
    aligns = ["---", "---", "---:", "---:", *(["---:"] * len(resources)), "---", "---"]
    return "| " + " | ".join(names) + " |", "|" + "|".join(aligns) + "|"


def job_table(
    jobs: Sequence[JobRecord],
    usages: Mapping[str, JobUsage],
    links: Mapping[str, str] | None = None,
) -> list[str]:
    """The job table, with the jobs' figures from `usages_by_job`."""
    head, rows = _job_rows(jobs, usages, links)
    return [*head, *(row for _, row in rows)]


def mlflow_links(summary: RunSummary) -> dict[str, str]:
    """Each job's run in the MLflow UI, when tracked and the UI's address is known."""
    tracking = summary.tracking or {}
    ui, experiment = tracking.get("ui_url"), tracking.get("experiment_id")
    if not ui or not experiment:
        return {}
    runs = tracking.get("runs") or {}
    return {job: f"{ui}/#/experiments/{experiment}/runs/{run}" for job, run in runs.items()}


def _job_rows(
    jobs: Sequence[JobRecord],
    usages: Mapping[str, JobUsage],
    links: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str], list[tuple[JobRecord, str]]]:
    """The table's header and one row per job; a sweep's trials are folded into its row
    (the sweep table has them), their resources counted in it; a job's name links to its
    MLflow run when `links` has it."""
    columns = resource_columns(usages.values())
    trials: dict[str, list[JobRecord]] = {}
    for job in jobs:
        for tag in job.tags:
            if tag.startswith("sweep:"):
                trials.setdefault(tag.removeprefix("sweep:"), []).append(job)
    rows = []
    for job in jobs:
        if job.is_trial:
            continue
        runs = trials.get(job.id, [job])
        optional = " (optional)" if job.optional else ""
        name = f"`{cell(job.id)}`"
        cells = [
            f"[{name}]({links[job.id]})" if links and job.id in links else name,
            f"{ICONS[job.status]} {job.status.value}{optional}",
            str(sum(len(run.attempts) for run in runs)),
            duration_text(sum(run.duration_s for run in runs)),
            *resource_cells(usages.get(job.id), columns),
            cell(_no_tags(metrics_text(job))),
            cell(_no_tags(gates_text(job))),
        ]
        rows.append((job, "| " + " | ".join(cells) + " |"))
    return job_table_head(columns), rows


def matrix_tables(jobs: Sequence[JobRecord]) -> list[str]:
    """Per matrix: each headline metric's mean, spread and best over its combinations."""
    groups: dict[str, list[JobRecord]] = {}
    for job in jobs:
        for tag in job.tags:
            if tag.startswith("matrix:"):
                groups.setdefault(tag.removeprefix("matrix:"), []).append(job)
    lines: list[str] = []
    for name, members in groups.items():
        done = [j for j in members if j.metrics]
        if not done:
            continue
        lines += [
            "",
            f"**Matrix `{cell(name)}`** ({len(done)} of {len(members)} with metrics)",
            "",
            "| metric | mean | std | best | best job |",
            "|---|---:|---:|---:|---|",
        ]
        for metric, _ in ranked_metrics(done[0].metrics, done[0].headline)[:HEADLINE_METRICS]:
            # Over the finite values: a NaN member's own row already says it is NaN.
            scored = [
                (j.metrics[metric], j.id)
                for j in done
                if math.isfinite(j.metrics.get(metric, math.nan))
            ]
            if not scored:
                continue
            values = [v for v, _ in scored]
            best = max(scored) if higher_is_better(metric) else min(scored)
            lines.append(
                f"| {metric} | {statistics.fmean(values):.4g} | "
                f"{statistics.pstdev(values):.2g} | {best[0]:.4g} | `{cell(best[1])}` |"
            )
    return lines


def sweep_tables(jobs: Sequence[JobRecord]) -> list[str]:
    """Per sweep: the best value and params, parameter importances, and trial counts."""
    lines: list[str] = []
    for job in jobs:
        sweep = job.sweep
        if not sweep:
            continue
        counts = ", ".join(f"{n} {state}" for state, n in sweep["trials"].items())
        lines += [
            "",
            f"**Sweep `{cell(job.id)}`** (study `{cell(sweep['study'])}`): "
            f"{cell(job.reason or job.status.value)} · trials: {counts or 'none'}",
        ]
        if sweep.get("note"):
            lines.append(f"> {cell(sweep['note'])}")
        if sweep.get("best_params"):
            importances = sweep.get("importances") or {}
            lines += ["", "| param | best | importance |", "|---|---|---:|"]
            lines += [
                f"| {cell(name)} | {cell(str(value))} | {importances.get(name, '—')} |"
                for name, value in sweep["best_params"].items()
            ]
    return lines


def metrics_text(job: JobRecord) -> str:
    if job.status not in SCORED:
        return job.reason or ""
    ranked = ranked_metrics(job.metrics, job.headline)
    text = ", ".join(f"{k} {metric_text(v)}" for k, v in ranked[:HEADLINE_METRICS])
    if job.status is Status.SUCCEEDED and job.reason:  # a success's reason is a metrics note
        text += f" ⚠️ {job.reason}"
    return text


def gates_text(job: JobRecord) -> str:
    if job.status is Status.GATE_FAILED:
        return f"✗ {job.reason}"
    if job.gates and job.status is Status.SUCCEEDED:
        return "✓ " + ", ".join(job.gates)
    return ", ".join(job.gates) or "—"


def _logged(summary: RunSummary, job: JobRecord, base: Path) -> bool:
    """Whether `job`'s log on disk is the one this run wrote (`show` of an older run finds
    a later run's there)."""
    ended = parse_iso(summary.ended_at) if summary.ended_at else math.inf
    return bool(job.attempts) and written_by_run(base / job.log_path, summary.started, ended)


def is_failure(job: JobRecord) -> bool:
    return job.status in FAILURES


def _log_tail(job: JobRecord, lines: Sequence[str]) -> Iterator[str]:
    yield ""
    yield (
        f"<details><summary>{ICONS[job.status]} <code>{_html(job.id)}</code> "
        f"{_html(job.reason or job.status.value)}: last {len(lines)} lines of "
        f"<code>{_html(job.log_path)}</code></summary>"
    )
    yield ""
    # Longer than any run of backticks in the log, so no log line can close the fence.
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    yield f"{fence}text"
    yield from lines or ["(log is empty or missing)"]
    yield fence
    yield "</details>"


def cell(text: str) -> str:
    """Text for one table cell: on one line, so it can neither end the row nor open a fence."""
    return one_line(text).replace("|", "\\|")


def _no_tags(text: str) -> str:
    """Text a job controls (a reason quoting a job id) must not open an HTML element."""
    return text.replace("<", "&lt;")


def _html(text: str) -> str:
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    """Every line break (CommonMark's, and the Unicode ones) made a space."""
    return " ".join(text.splitlines())
