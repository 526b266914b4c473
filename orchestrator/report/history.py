"""Reports across runs: show one summary, compare two, chart the trend over many.

Everything here reads summary documents only (never a live run), so summaries copied from
CI artifacts, merged from shards or rebuilt from a journal all compare the same way.
Sweep trials are folded into their sweep, as in every other report: a dozen trial rows
would bury the news, and their time is counted as the sweep's.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.report.console import STATUS_STYLE, make_console
from orchestrator.report.logs import tail_lines
from orchestrator.report.markdown import (
    COMPARE_RESERVE,
    HEADLINE_METRICS,
    cell,
    cut_to,
    gates_text,
    is_failure,
    lines_size,
    metrics_text,
    one_line,
    render,
)
from orchestrator.report.summary import (
    duration_text,
    higher_is_better,
    metric_text,
    ranked_metrics,
)
from orchestrator.run_summary import (
    AttemptRecord,
    JobRecord,
    RunSummary,
    encode_metric,
    job_document,
    load,
    parse_iso,
    summary_files,
    to_document,
)

ChangeKind = Literal["newly_failing", "fixed", "still_failing", "new", "removed", "unchanged"]
Verdict = Literal["better", "worse", "same"]

#: Status changes, most urgent first: the order of the status table.
KIND_ORDER: tuple[ChangeKind, ...] = (
    "newly_failing",
    "still_failing",
    "fixed",
    "new",
    "removed",
    "unchanged",
)
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
#: A job's run time is worth a row when it changed by more than this fraction.
DURATION_CHANGE = 0.2
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
NOT_FINITE_MARK = "!"


# ------------------------------------------------------------------------------ loading
def load_summaries(paths: Sequence[Path]) -> list[RunSummary]:
    """The summaries at `paths`, oldest first (a directory stands for its summaries)."""
    summaries = [load(file) for path in paths for file in summary_files(path)]
    return sorted(summaries, key=lambda summary: summary.started)


# ---------------------------------------------------------------------- shared helpers
def _jobs(summary: RunSummary) -> dict[str, JobRecord]:
    return {job.id: job for job in summary.jobs if not job.is_trial}


def _owner(job: JobRecord) -> str:
    """The job a record's work counts for: its sweep for a trial, else itself."""
    sweeps = [tag.removeprefix("sweep:") for tag in job.tags if tag.startswith("sweep:")]
    return sweeps[0] if sweeps else job.id


def _attempts(summary: RunSummary) -> dict[str, list[AttemptRecord]]:
    """Each job's attempts, its sweep trials' included (a sweep itself runs nothing)."""
    found: dict[str, list[AttemptRecord]] = {}
    for job in summary.jobs:
        found.setdefault(_owner(job), []).extend(job.attempts)
    return found


def _run_times(summary: RunSummary) -> dict[str, float | None]:
    """Seconds each job ran; None when it did not run (cached, reused, skipped), so that a
    cache hit does not read as a 100% speed-up."""
    return {
        job_id: sum(a.duration_s for a in attempts) if attempts else None
        for job_id, attempts in _attempts(summary).items()
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _run_ref(started_at: str, commit: str | None) -> str:
    return f"`{started_at}`" + (f" (commit `{commit[:7]}`)" if commit else "")


# ------------------------------------------------------------------------------ compare
@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric of one job in both runs, judged in the metric's own direction."""

    job: str
    metric: str
    base: float
    head: float
    higher_is_better: bool
    tolerance: float

    @property
    def delta(self) -> float:
        return self.head - self.base

    @property
    def relative(self) -> float:
        """The change as a fraction of the base; a zero base counts as tiny, not as zero."""
        return self.delta / max(abs(self.base), 1e-12)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.base) and math.isfinite(self.head)

    @property
    def verdict(self) -> Verdict:
        """A metric that became NaN or infinite is worse whatever its direction (a loss of
        -Infinity is a broken run, not a perfect one), and one that became finite again
        is better; NaN in both runs is no news."""
        if not self.finite:
            if math.isfinite(self.base):
                return "worse"
            if math.isfinite(self.head):
                return "better"
            return "same"
        if self.delta == 0:
            return "same"
        return "better" if (self.delta > 0) == self.higher_is_better else "worse"

    @property
    def regression(self) -> bool:
        """Worse by more than the tolerance (becoming non-finite always is). A change equal
        to it up to float rounding is not: 1.0 → 0.99 at 1% must pass as written, though
        its float delta is a hair over."""
        if not self.finite:
            return self.verdict == "worse"
        size = abs(self.relative)
        return (
            self.verdict == "worse"
            and size > self.tolerance
            and not math.isclose(size, self.tolerance, rel_tol=1e-9)
        )


@dataclass(frozen=True, slots=True)
class JobChange:
    """One job across both runs: its status change, metric changes and run time."""

    job: str
    kind: ChangeKind
    base_status: str | None
    head_status: str | None
    optional: bool
    reason: str | None
    base_duration: float | None
    head_duration: float | None
    metrics: tuple[MetricChange, ...]

    @property
    def required(self) -> bool:
        """Only jobs the head run requires can regress: optional ones may fail, and a
        removed job has nothing left to fail."""
        return self.head_status is not None and not self.optional

    @property
    def duration_delta(self) -> float | None:
        if self.base_duration is None or self.head_duration is None:
            return None
        return self.head_duration - self.base_duration

    @property
    def duration_ratio(self) -> float | None:
        if not self.base_duration or self.head_duration is None:
            return None
        return self.head_duration / self.base_duration


@dataclass(frozen=True, slots=True)
class RunRef:
    started_at: str
    git_commit: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    base: RunRef
    head: RunRef
    jobs: tuple[JobChange, ...]

    @property
    def regressions(self) -> tuple[JobChange | MetricChange, ...]:
        """Required jobs that newly fail, then metrics worse than tolerated, largest first."""
        failing = [j for j in self.jobs if j.required and j.kind == "newly_failing"]
        worse = [m for j in self.jobs if j.required for m in j.metrics if m.regression]
        # Metrics that stopped being numbers first: their size is no number to sort by.
        return (*failing, *sorted(worse, key=lambda m: (m.finite, -abs(m.relative))))


def compare(
    base: RunSummary,
    head: RunSummary,
    *,
    tolerance: float = 0.01,
    directions: Mapping[str, Mapping[str, str]] | None = None,
    tolerances: Mapping[str, Mapping[str, float]] | None = None,
) -> Comparison:
    """What changed from `base` to `head`, job by job (head's order, then removed jobs).

    `directions[job][metric]` ("higher"/"lower") overrides the guess from the metric's name;
    `tolerances[job][metric]` overrides `tolerance`, the relative worsening allowed.
    """
    base_jobs, head_jobs = _jobs(base), _jobs(head)
    base_times, head_times = _run_times(base), _run_times(head)
    ids = [*head_jobs, *(job_id for job_id in base_jobs if job_id not in head_jobs)]
    changes = []
    for job_id in ids:
        old, new = base_jobs.get(job_id), head_jobs.get(job_id)
        record = new or base_jobs[job_id]
        changes.append(
            JobChange(
                job=job_id,
                kind=change_kind(_status(old), _status(new)),
                base_status=_status(old),
                head_status=_status(new),
                optional=record.optional,
                reason=record.reason,
                base_duration=base_times.get(job_id),
                head_duration=head_times.get(job_id),
                metrics=metric_changes(
                    old,
                    new,
                    directions=(directions or {}).get(job_id, {}),
                    tolerances=(tolerances or {}).get(job_id, {}),
                    tolerance=tolerance,
                ),
            )
        )
    return Comparison(
        base=RunRef(base.started_at, base.git_commit),
        head=RunRef(head.started_at, head.git_commit),
        jobs=tuple(changes),
    )


def _status(job: JobRecord | None) -> str | None:
    return None if job is None else job.status.value


def change_kind(base_status: str | None, head_status: str | None) -> ChangeKind:
    """Success ("ok") as the exit code counts it: succeeded, cached or reused."""
    if base_status is None:
        return "new"
    if head_status is None:
        return "removed"
    was, now = Status(base_status).ok, Status(head_status).ok
    if was and not now:
        return "newly_failing"
    if now and not was:
        return "fixed"
    return "unchanged" if now else "still_failing"


def metric_changes(
    base: JobRecord | None,
    head: JobRecord | None,
    *,
    directions: Mapping[str, str],
    tolerances: Mapping[str, float],
    tolerance: float,
) -> tuple[MetricChange, ...]:
    """Metrics both runs have, headline first; spreads and counts are left out."""
    if base is None or head is None:
        return ()
    return tuple(
        MetricChange(
            job=head.id,
            metric=name,
            base=base.metrics[name],
            head=value,
            higher_is_better=_higher(name, directions.get(name)),
            tolerance=tolerances.get(name, tolerance),
        )
        for name, value in ranked_metrics(head.metrics, head.headline)
        if name in base.metrics
    )


def _higher(metric: str, direction: str | None) -> bool:
    if direction is None:
        return higher_is_better(metric)
    if direction not in {"higher", "lower"}:
        raise OrchestratorError(
            f"direction of {metric}: {direction!r}; expected 'higher' or 'lower'"
        )
    return direction == "higher"


def compare_verdict(c: Comparison) -> str:
    """`❌ 2 regressions · 1 fixed · 3 metrics better`: the comparison in one line."""
    regressions = len(c.regressions)
    kinds = Counter(j.kind for j in c.jobs)
    verdicts = Counter(m.verdict for j in c.jobs for m in j.metrics)
    parts = [f"❌ {_plural(regressions, 'regression')}" if regressions else "✅ no regressions"]
    parts += [f"{kinds[k]} {k.replace('_', ' ')}" for k in KIND_ORDER[:-1] if kinds[k]]
    parts += [f"{_plural(verdicts[v], 'metric')} {v}" for v in ("better", "worse") if verdicts[v]]
    return " · ".join(parts)


def _status_rows(c: Comparison) -> list[JobChange]:
    """Jobs whose status changed, regressions first, then by urgency of the change."""
    regressions = c.regressions
    changed = [j for j in c.jobs if j.kind != "unchanged"]
    return sorted(changed, key=lambda j: (j not in regressions, KIND_ORDER.index(j.kind)))


def _metric_rows(c: Comparison) -> list[tuple[MetricChange, bool]]:
    """Changed metrics, each with whether it is a regression; regressions first."""
    regressed = [r for r in c.regressions if isinstance(r, MetricChange)]
    rest = [m for j in c.jobs for m in j.metrics if m.verdict != "same" and m not in regressed]
    return [(m, True) for m in regressed] + [(m, False) for m in rest]


def _duration_rows(c: Comparison) -> list[JobChange]:
    return [
        j
        for j in c.jobs
        if j.duration_ratio is not None and abs(j.duration_ratio - 1) > DURATION_CHANGE
    ]


def _delta_text(m: MetricChange) -> str:
    """`-0.05 (-5.6%) ↓ ❌`: the change, its size, its direction, and whether that is good."""
    return f"{_change_text(m)} {'✅' if m.verdict == 'better' else '❌'}"


def _change_text(m: MetricChange) -> str:
    if not m.finite:  # no number measures the step to or from NaN
        return "no longer finite" if m.verdict == "worse" else "finite again"
    relative = f" ({m.relative:+.1%})" if abs(m.base) >= 1e-12 else ""
    return f"{m.delta:+.4g}{relative} {'↑' if m.delta > 0 else '↓'}"


def _note(j: JobChange) -> str:
    failing = j.head_status is not None and not Status(j.head_status).ok
    note = (j.reason or "") if failing else ""
    return f"{note} (optional)".strip() if j.optional else note


STATUS_HEAD = ("| job | change | base | head | note |", "|---|---|---|---|---|")
METRIC_HEAD = (
    "| job | metric | base | head | delta | regression |",
    "|---|---|---:|---:|---|---|",
)
DURATION_HEAD = (
    f"**Run time changed by more than {DURATION_CHANGE:.0%}**",
    "",
    "| job | base | head | change |",
    "|---|---:|---:|---:|",
)


def compare_markdown(c: Comparison, *, limit: int = COMPARE_RESERVE) -> str:
    """The comparison for a PR comment or GitHub's step summary, headed to sit under a run's
    own summary: verdict, status changes, metric changes, notable run-time changes.

    At most `limit` bytes, the room the run's own report leaves it in the step summary:
    rows are left out from the least urgent end (regressions come first) and counted.
    """
    head = [
        "### Compared with the previous run",
        "",
        compare_verdict(c),
        "",
        f"Base {_run_ref(c.base.started_at, c.base.git_commit)} → "
        f"head {_run_ref(c.head.started_at, c.head.git_commit)}",
    ]
    status_table = [
        f"| `{cell(j.job)}` | {KIND_LABEL[j.kind]} | {j.base_status or '—'} | "
        f"{j.head_status or '—'} | {cell(_note(j))} |"
        for j in _status_rows(c)
    ]
    metric_table = [
        f"| `{cell(m.job)}` | {cell(m.metric)} | {metric_text(m.base)} | {metric_text(m.head)} | "
        f"{_delta_text(m)} | {'**regression**' if regressed else ''} |"
        for m, regressed in _metric_rows(c)
    ]
    duration_table = [
        f"| `{cell(j.job)}` | {duration_text(j.base_duration or 0)} | "
        f"{duration_text(j.head_duration or 0)} | {(j.duration_ratio or 0) - 1:+.0%} |"
        for j in _duration_rows(c)
    ]
    tables = (
        (STATUS_HEAD, status_table),
        (METRIC_HEAD, metric_table),
        (DURATION_HEAD, duration_table),
    )
    return _fit_tables(head, tables, limit)


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
        f"> {_plural(rows, 'more row')} left out to fit GitHub's step summary; "
        "`run-all-training compare --format json` lists them all."
    )


def compare_json(c: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON values, derived numbers included, for other tools."""
    return {
        "base": asdict(c.base),
        "head": asdict(c.head),
        "verdict": compare_verdict(c),
        "regressions": [_regression_json(r) for r in c.regressions],
        "jobs": [_job_json(j) for j in c.jobs],
    }


def _regression_json(r: JobChange | MetricChange) -> dict[str, Any]:
    if isinstance(r, JobChange):
        return {"job": r.job, "kind": "newly_failing", "metric": None, "relative": None}
    relative = encode_metric(r.relative)
    return {"job": r.job, "kind": "metric", "metric": r.metric, "relative": relative}


def _job_json(j: JobChange) -> dict[str, Any]:
    return {
        "id": j.job,
        "kind": j.kind,
        "base_status": j.base_status,
        "head_status": j.head_status,
        "optional": j.optional,
        "reason": j.reason,
        "duration": {
            "base": j.base_duration,
            "head": j.head_duration,
            "delta": j.duration_delta,
            "ratio": j.duration_ratio,
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
            for m in j.metrics
        ],
    }


def print_compare(c: Comparison) -> None:
    """The comparison in the terminal: the same tables as the Markdown, in colour."""
    console = make_console()
    style = "red" if c.regressions else "green"
    console.print(f"[bold {style}]{escape(compare_verdict(c))}[/]")
    console.print(f"[dim]base {escape(c.base.started_at)} → head {escape(c.head.started_at)}[/]")
    status_rows = _status_rows(c)
    if status_rows:
        table = _table(("job", "left"), ("change", "left"), ("base", "left"), ("head", "left"))
        table.add_column("note")
        for j in status_rows:
            kind_style = KIND_STYLE[j.kind]
            table.add_row(
                escape(j.job),
                f"[{kind_style}]{j.kind.replace('_', ' ')}[/]",
                j.base_status or "—",
                j.head_status or "—",
                escape(_note(j)),
            )
        console.print()
        console.print(table)
    metric_rows = _metric_rows(c)
    if metric_rows:
        table = _table(("job", "left"), ("metric", "left"), ("base", "right"), ("head", "right"))
        table.add_column("delta", justify="right")
        table.add_column("")
        for m, regressed in metric_rows:
            colour = "green" if m.verdict == "better" else "red"
            table.add_row(
                escape(m.job),
                escape(m.metric),
                metric_text(m.base),
                metric_text(m.head),
                f"[{colour}]{escape(_change_text(m))}[/]",
                "[bold red]regression[/]" if regressed else "",
            )
        console.print()
        console.print(table)
    duration_rows = _duration_rows(c)
    if duration_rows:
        table = _table(("job", "left"), ("base", "right"), ("head", "right"))
        table.add_column("time", justify="right")
        for j in duration_rows:
            ratio = j.duration_ratio or 0
            table.add_row(
                escape(j.job),
                duration_text(j.base_duration or 0),
                duration_text(j.head_duration or 0),
                f"[{'red' if ratio > 1 else 'green'}]{ratio - 1:+.0%}[/]",
            )
        console.print()
        console.print(table)


def _table(*columns: tuple[str, Literal["left", "right"]]) -> Table:
    """A borderless table like the run's final table."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name, justify in columns:
        table.add_column(name, justify=justify)
    return table


# -------------------------------------------------------------------------------- trend
@dataclass(frozen=True, slots=True)
class Series:
    """One value per run, None where the run has none (job absent, failed, not run)."""

    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class JobTrend:
    job: str
    metrics: tuple[Series, ...]
    durations: Series


@dataclass(frozen=True, slots=True)
class Trend:
    labels: tuple[str, ...]
    jobs: tuple[JobTrend, ...]


def trend(summaries: Sequence[RunSummary]) -> Trend:
    """Each job's headline metrics and run time across `summaries`, in the order given
    (`load_summaries` gives oldest first); the newest run's jobs come first."""
    records = [_jobs(summary) for summary in summaries]
    times = [_run_times(summary) for summary in summaries]
    ids = dict.fromkeys(job_id for jobs in reversed(records) for job_id in jobs)
    return Trend(
        labels=run_labels([summary.started_at for summary in summaries]),
        jobs=tuple(_job_trend(job_id, records, times) for job_id in ids),
    )


def _job_trend(
    job_id: str,
    records: Sequence[Mapping[str, JobRecord]],
    times: Sequence[Mapping[str, float | None]],
) -> JobTrend:
    """Metrics chosen from the job's newest record with any: the ones it is judged by now."""
    scored = [jobs[job_id] for jobs in records if job_id in jobs and jobs[job_id].metrics]
    names = (
        [n for n, _ in ranked_metrics(scored[-1].metrics, scored[-1].headline)] if scored else []
    )
    return JobTrend(
        job=job_id,
        metrics=tuple(
            Series(name, tuple(_value(jobs, job_id, name) for jobs in records))
            for name in names[:HEADLINE_METRICS]
        ),
        durations=Series("time", tuple(t.get(job_id) for t in times)),
    )


def _value(jobs: Mapping[str, JobRecord], job_id: str, metric: str) -> float | None:
    job = jobs.get(job_id)
    return job.metrics.get(metric) if job else None


def run_labels(started_at: Sequence[str]) -> tuple[str, ...]:
    """`11-26 14:05` (UTC) per run, numbered `#2`... where runs share a minute: a chart's
    x-axis needs distinct categories, or Mermaid draws two runs at one point."""
    short = [time.strftime("%m-%d %H:%M", time.gmtime(parse_iso(text))) for text in started_at]
    total, seen = Counter(short), Counter[str]()
    labels = []
    for label in short:
        seen[label] += 1
        labels.append(f"{label} #{seen[label]}" if total[label] > 1 else label)
    return tuple(labels)


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


def trend_markdown(t: Trend) -> str:
    """Per job, a Mermaid `xychart-beta` line chart per headline metric and one of run time.

    One chart per metric, not one line each in a shared chart: xychart draws no legend,
    and accuracy (~0.9) beside rmse (~50) would flatten one of them. Runs where a value
    is missing are left out of that chart rather than filled in, so no point is invented;
    each chart therefore has its own x-axis.
    """
    if not t.labels:
        return "### Trend\n\nNo run summaries to chart.\n"
    lines = [
        f"### Trend over {_plural(len(t.labels), 'run')}",
        "",
        f"From {t.labels[0]} to {t.labels[-1]} (UTC); runs without a value are left out.",
    ]
    for job in t.jobs:
        charts = [
            xychart(f"{job.job}: {series.name}", series.name, t.labels, series.values)
            for series in job.metrics
        ]
        charts.append(xychart(f"{job.job}: run time", "seconds", t.labels, job.durations.values))
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
        f"    title {_mermaid_text(title)}",
        f"    x-axis [{', '.join(_mermaid_text(label) for label, _ in points)}]",
        f"    y-axis {_mermaid_text(axis)}",
        f"    line [{', '.join(_mermaid_number(v) for _, v in points)}]",
        "```",
    ]


def _mermaid_text(text: str) -> str:
    """One quoted xychart string, whatever the text (a job id, a metric name) holds.

    Its strings cannot hold a quote; a line break would end the statement or the Markdown
    fence around the chart; `%%` starts a directive Mermaid reads even inside a string;
    an empty string does not parse.
    """
    kept = "".join(
        "'" if c == '"' else "_" if c == "%" else c if c.isprintable() else " " for c in text
    )
    return f'"{kept or " "}"'


def _mermaid_number(value: float) -> str:
    """Six significant digits, never in exponent form: xychart's grammar has none."""
    text = format(Decimal(f"{value:.6g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def print_trend(t: Trend) -> None:
    """A sparkline per job and metric, oldest run on the left, with the latest value."""
    console = make_console()
    if not t.labels:
        console.print("no run summaries to chart")
        return
    console.print(
        f"{_plural(len(t.labels), 'run')} from {t.labels[0]} to {t.labels[-1]} (UTC), "
        "oldest on the left"
    )
    table = _table(("job", "left"), ("metric", "left"), ("trend", "left"))
    table.add_column("latest", justify="right")
    for job in t.jobs:
        for series in (*job.metrics, job.durations):
            latest = next((v for v in reversed(series.values) if v is not None), None)
            shown = "—" if latest is None else metric_text(latest)
            table.add_row(
                escape(job.job),
                escape(series.name),
                f"[cyan]{sparkline(series.values)}[/]",
                duration_text(latest) if series is job.durations and latest is not None else shown,
            )
    console.print()
    console.print(table)


# --------------------------------------------------------------------------------- show
def show_markdown(summary: RunSummary, base: Path) -> str:
    """The same Markdown the run wrote, so `show` on an old summary matches its artifact."""
    return render(to_document(summary), base)


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
    attempts = _attempts(summary)
    trials = Counter(_owner(job) for job in summary.jobs if job.is_trial)
    table = _table(("job", "left"), ("status", "left"), ("tries", "right"), ("time", "right"))
    table.add_column("headline")
    table.add_column("gates")
    for job in jobs:
        _, style = STATUS_STYLE[job.status]
        optional = " (optional)" if job.optional else ""
        note = f" · {trials[job.id]} trials" if trials[job.id] else ""
        runs = attempts.get(job.id, [])
        document = job_document(job)
        table.add_row(
            escape(job.id),
            f"[{style}]{job.status.value}[/]{optional}",
            str(len(runs)),
            duration_text(sum(a.duration_s for a in runs)),
            escape(metrics_text(document) + note),
            escape(gates_text(document)),
        )
    console.print()
    console.print(table)
    for job in jobs:
        if is_failure(job_document(job)):
            _print_tail(console, job, tail_lines(base / job.log_path, tail))
    exit_style = "green" if summary.exit_code == 0 else "red"
    console.print(
        f"\n{escape(_totals(jobs))} · {duration_text(summary.duration_s)} · "
        f"[{exit_style}]exit {summary.exit_code}[/]"
    )


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
