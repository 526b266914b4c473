"""`summaries/summary.md`, also appended to GitHub's step summary: the run in five seconds.

A verdict line, one table row per job, failing jobs' log tails folded in `<details>`, and
a Mermaid gantt of when each job ran (GitHub renders it), built from the summary document
alone so a merged or rebuilt summary renders the same way. It is cut to fit GitHub's step
summary limit, least important parts first.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from orchestrator.models import Status
from orchestrator.report.logs import tail_lines
from orchestrator.report.summary import (
    duration_text,
    higher_is_better,
    metric_text,
    ranked_metrics,
)
from orchestrator.run_summary import is_trial, parse_iso

#: GitHub shows no step summary over 1 MiB: this is the size of one step's whole file.
GITHUB_STEP_SUMMARY_MAX = 1024 * 1024
#: Room `render` leaves in the step summary for the comparison with the previous run,
#: which the workflow appends after it; `history.compare_markdown` keeps to this size.
COMPARE_RESERVE = 64 * 1024
#: The most `render` writes, so that the report plus the comparison fit GitHub's limit.
STEP_SUMMARY_LIMIT = GITHUB_STEP_SUMMARY_MAX - COMPARE_RESERVE
#: Mermaid draws an error instead of a chart whose text is longer (its `maxTextSize`).
MERMAID_MAX_TEXT = 50_000
ICONS = {
    "succeeded": "✅",
    "failed": "❌",
    "timed_out": "⏱️",
    "cancelled": "⏹️",
    "skipped": "⏭️",
    "gate_failed": "🚧",
    "cached": "♻️",
    "reused": "♻️",
    "pruned": "✂️",
}
HEADLINE_METRICS = 3
_BACKTICKS = re.compile("`+")
#: A part of the summary document: a job, or one of its attempts.
Part = Mapping[str, Any]


class Shrink(NamedTuple):
    """How much of the optional parts a rendering keeps."""

    tail_count: int  # log lines shown per failing job
    extras: bool  # matrix and sweep tables
    timeline: bool


#: What gives way, in this order, when the report is over its limit: log tails shrink,
#: then the matrix and sweep tables go, then the timeline.
SHRINK_STEPS = (
    Shrink(50, extras=True, timeline=True),
    Shrink(10, extras=True, timeline=True),
    Shrink(0, extras=True, timeline=True),
    Shrink(0, extras=False, timeline=True),
    Shrink(0, extras=False, timeline=False),
)
ARTIFACTS_NOTE = "The run's artifacts (summaries/, logs/) have everything."


def render(summary: Mapping[str, Any], base: Path, *, limit: int = STEP_SUMMARY_LIMIT) -> str:
    """The Markdown in at most `limit` bytes, giving way least where it matters most.

    The verdict line comes first and always stays; the job table (failing rows last to go)
    outlasts the timeline, which outlasts log tails and matrix and sweep tables. A note
    under the verdict says what was cut, so a reader knows to open the artifacts.
    """
    failures = [job for job in summary["jobs"] if is_failure(job)]
    most = SHRINK_STEPS[0].tail_count
    tails = [(job, tail_lines(base / job["log_path"], most)) for job in failures]
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
    cuts += [] if step.timeline else ["timeline left out"]
    return f"> Shortened to fit GitHub's 1 MiB step summary: {', '.join(cuts)}. {ARTIFACTS_NOTE}"


def _document(
    summary: Mapping[str, Any],
    tails: Sequence[tuple[Mapping[str, Any], list[str]]],
    step: Shrink,
) -> str:
    jobs = summary["jobs"]
    note = _shrunk_note(step)
    parts = [verdict(summary), "", *([note, ""] if note else []), *job_table(jobs)]
    if step.extras:
        parts += [*matrix_tables(jobs), *sweep_tables(jobs)]
    if step.tail_count:
        count = step.tail_count
        parts += [line for job, lines in tails for line in _log_tail(job, lines[-count:])]
    if step.timeline and any(job["attempts"] for job in jobs):
        parts += ["", *_timeline(summary)]
    return "\n".join(parts) + "\n"


def _table_only(summary: Mapping[str, Any], limit: int) -> str:
    """The verdict and as many job table rows as fit, failing jobs' rows before others'.

    Rows keep the table's order; what is left out is counted in the note. Only a limit too
    small for the verdict itself cuts text mid-line, to keep the promise of `limit` bytes.
    """
    rows = [(is_failure(job), row) for job, row in _job_rows(summary["jobs"])]
    head = [verdict(summary), ""]
    # The note is sized for the largest counts it can hold, so it still fits once written.
    room = limit - lines_size([*head, _table_note(len(rows), len(rows)), "", *JOB_TABLE_HEAD])
    kept: set[int] = set()
    for index in sorted(range(len(rows)), key=lambda i: not rows[i][0]):
        if lines_size([rows[index][1]]) > room:
            break
        room -= lines_size([rows[index][1]])
        kept.add(index)
    left_out = [failing for index, (failing, _) in enumerate(rows) if index not in kept]
    table = [*JOB_TABLE_HEAD, *(row for index, (_, row) in enumerate(rows) if index in kept)]
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


def verdict(summary: Mapping[str, Any]) -> str:
    code = summary["exit_code"]
    icon = "✅" if code == 0 else "❌"
    jobs = [job for job in summary["jobs"] if not is_trial(job["tags"])]
    tally = Counter(job["status"] for job in jobs)
    counts = (
        " · ".join(
            f"{tally[s.value]} {s.value.replace('_', ' ')}" for s in Status if tally[s.value]
        )
        or "no jobs"
    )
    trials = len(summary["jobs"]) - len(jobs)
    counts += f" (+{trials} sweep trials)" if trials else ""
    interrupted = (
        f" · interrupted by {summary['interrupted_by']}" if summary["interrupted_by"] else ""
    )
    return (
        f"## {icon} Training run: {counts} · {duration_text(summary['duration_s'])}"
        f"{interrupted} · exit {code}"
    )


JOB_TABLE_HEAD = (
    "| job | status | tries | time | metrics | gates |",
    "|---|---|---:|---:|---|---|",
)


def job_table(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [*JOB_TABLE_HEAD, *(row for _, row in _job_rows(jobs))]


def _job_rows(jobs: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
    """One row per job; a sweep's trials are folded into its row (the sweep table has them)."""
    trials: dict[str, list[Mapping[str, Any]]] = {}
    for job in jobs:
        for tag in job["tags"]:
            if tag.startswith("sweep:"):
                trials.setdefault(tag.removeprefix("sweep:"), []).append(job)
    rows = []
    for job in jobs:
        if is_trial(job["tags"]):
            continue
        runs = trials.get(job["id"], [job])
        optional = " (optional)" if job["optional"] else ""
        cells = [
            f"`{cell(job['id'])}`",
            f"{ICONS[job['status']]} {job['status']}{optional}",
            str(sum(len(run["attempts"]) for run in runs)),
            duration_text(sum(run["duration_s"] for run in runs)),
            cell(_no_tags(metrics_text(job))),
            cell(_no_tags(gates_text(job))),
        ]
        rows.append((job, "| " + " | ".join(cells) + " |"))
    return rows


def matrix_tables(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per matrix: each headline metric's mean, spread and best over its combinations."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for job in jobs:
        for tag in job["tags"]:
            if tag.startswith("matrix:"):
                groups.setdefault(tag.removeprefix("matrix:"), []).append(job)
    lines: list[str] = []
    for name, members in groups.items():
        done = [j for j in members if j["metrics"]]
        if not done:
            continue
        lines += [
            "",
            f"**Matrix `{cell(name)}`** ({len(done)} of {len(members)} with metrics)",
            "",
            "| metric | mean | std | best | best job |",
            "|---|---:|---:|---:|---|",
        ]
        for metric, _ in ranked_metrics(done[0]["metrics"], done[0]["headline"])[:HEADLINE_METRICS]:
            # Over the finite values: a NaN member's own row already says it is NaN.
            scored = [
                (j["metrics"][metric], j["id"])
                for j in done
                if math.isfinite(j["metrics"].get(metric, math.nan))
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


def sweep_tables(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per sweep: the best value and params, parameter importances, and trial counts."""
    lines: list[str] = []
    for job in jobs:
        sweep = job["sweep"]
        if not sweep:
            continue
        counts = ", ".join(f"{n} {state}" for state, n in sweep["trials"].items())
        lines += [
            "",
            f"**Sweep `{cell(job['id'])}`** (study `{cell(sweep['study'])}`): "
            f"{cell(job['reason'] or job['status'])} · trials: {counts or 'none'}",
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


def metrics_text(job: Mapping[str, Any]) -> str:
    if job["status"] not in {"succeeded", "gate_failed", "cached", "reused"}:
        return job["reason"] or ""
    ranked = ranked_metrics(job["metrics"], job["headline"])
    text = ", ".join(f"{k} {metric_text(v)}" for k, v in ranked[:HEADLINE_METRICS])
    if job["status"] == "succeeded" and job["reason"]:  # a success's reason is a metrics note
        text += f" ⚠️ {job['reason']}"
    return text


def gates_text(job: Mapping[str, Any]) -> str:
    if job["status"] == "gate_failed":
        return f"✗ {job['reason']}"
    if job["gates"] and job["status"] == "succeeded":
        return "✓ " + ", ".join(job["gates"])
    return ", ".join(job["gates"]) or "—"


def is_failure(job: Mapping[str, Any]) -> bool:
    return job["status"] in {"failed", "timed_out", "gate_failed", "cancelled"}


def _log_tail(job: Mapping[str, Any], lines: Sequence[str]) -> Iterator[str]:
    yield ""
    yield (
        f"<details><summary>{ICONS[job['status']]} <code>{_html(job['id'])}</code> "
        f"{_html(job['reason'] or job['status'])}: last {len(lines)} lines of "
        f"<code>{_html(job['log_path'])}</code></summary>"
    )
    yield ""
    # Longer than any run of backticks in the log, so no log line can close the fence.
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    yield f"{fence}text"
    yield from lines or ["(log is empty or missing)"]
    yield fence
    yield "</details>"


#: The tag, and so the CSS class and colour (named for the default theme), that Mermaid
#: draws an attempt's bar with. done (grey): a success. crit (red): a failure, time-out
#: or cancellation, as `is_failure` counts them. active (blue): a success whose job then
#: failed its gates, a failing job but not a failed run. None (the plain task colour): a
#: sweep trial its sampler pruned on purpose, which is neither.
ATTEMPT_TAGS = {
    "succeeded": "done",
    "failed": "crit",
    "timed_out": "crit",
    "cancelled": "crit",
    "pruned": "",
}
GATE_FAILED_TAG = "active"
#: Every task name starts with this: no Mermaid keyword or comment does, so whatever a
#: job id holds, it cannot start a line Mermaid reads as anything but a task.
TASK_PREFIX = "· "
#: Besides letters and digits, the characters a task name keeps; the rest become "_".
#: Brackets (matrix ids) become parentheses, which read the same and mean nothing to Mermaid.
TASK_NAME_PUNCTUATION = " _-.,+=/()"
TASK_NAME_MAX = 80
SECOND_MS, DAY_MS = 1000, 86_400_000


def _timeline(summary: Mapping[str, Any]) -> list[str]:
    """The gantt, or a note where Mermaid would draw an error instead of a chart that long."""
    chart = gantt(summary)
    size = len("\n".join(chart[1:-1]).encode("utf-16-le")) // 2  # JavaScript's length
    if size <= MERMAID_MAX_TEXT:
        return chart
    bars = sum(len(job["attempts"]) for job in summary["jobs"])
    return [
        f"> The timeline of {bars} attempts is left out: Mermaid draws no chart longer than "
        f"{MERMAID_MAX_TEXT:,} characters. The summary JSON has each attempt's times."
    ]


def gantt(summary: Mapping[str, Any]) -> list[str]:
    """Attempts as bars, one section per lane: the parallelism a reviewer wants to see.

    Dates are integer epoch milliseconds (`dateFormat x`): Mermaid parses task dates
    strictly when it draws, and `X` takes no fractional seconds. Being real instants, the
    axis shows them as clock times in the viewer's own time zone (Mermaid formats ticks
    in local time and has no UTC option), right for every viewer; offsets from zero would
    print correct elapsed times only for viewers in UTC.
    """
    bars = _bars(summary)
    # Lanes are found per CI runner: a merged run's shards ran on separate machines, and
    # a lane shared between them would name one worker for two runners' jobs.
    lanes: dict[str | None, list[int]] = {}  # per shard: when each of its lanes is free
    sections: dict[tuple[int, str | None, int], list[str]] = {}
    for start, end, job, attempt in bars:
        shard = job.get("shard")
        free_at = lanes.setdefault(shard, [])
        # Start times are kept to the millisecond and durations rounded to it, so a job
        # started a tenth of a millisecond after the last one ended (as a sequential run
        # does) can seem to begin up to 1.5 ms before it: that lane is still free.
        lane = next((i for i, free in enumerate(free_at) if free <= start + 2), len(free_at))
        if lane == len(free_at):
            free_at.append(0)
        free_at[lane] = end
        key = (_shard_number(shard), shard, lane)
        sections.setdefault(key, []).append(_task(job, attempt, start, end))
    span = max(end for _, end, _, _ in bars) - bars[0][0] if bars else 0
    sharded = any(shard for _, shard, _ in sections)
    # Mermaid leaves 75 px for section names: "shard 2/3 · worker 1" would run into the bars.
    config = ["---", "config:", "  gantt:", "    leftPadding: 170", "---"] if sharded else []
    lines = [
        "```mermaid",
        *config,
        "gantt",
        "    title When each job ran (clock times in your time zone)",
        "    dateFormat x",
        f"    axisFormat {_axis_format(span)}",
        "    todayMarker off",  # today's line would stretch the axis out to the present
    ]
    for (_, shard, lane), tasks in sorted(sections.items(), key=lambda item: item[0][::2]):
        runner = f"shard {task_name(shard).removeprefix(TASK_PREFIX)} · " if shard else ""
        lines += [f"    section {runner}worker {lane + 1}", *tasks]
    return [*lines, "```"]


def _shard_number(shard: str | None) -> int:
    """`"2/3"` → 2, so shard 10 is drawn after shard 9; 0 for a run that was not sharded."""
    head = (shard or "").partition("/")[0]
    return int(head) if head.isdigit() else 0


def _bars(summary: Mapping[str, Any]) -> list[tuple[int, int, Part, Part]]:
    """(start, end, job, attempt) per attempt in epoch ms, by start; no bar is 0 ms long."""
    bars = []
    for job in summary["jobs"]:
        for attempt in job["attempts"]:
            start = round(parse_iso(attempt["started_at"]) * SECOND_MS)
            end = start + max(1, round(attempt["duration_s"] * SECOND_MS))
            bars.append((start, end, job, attempt))
    return sorted(bars, key=lambda bar: (bar[0], bar[1], bar[2]["id"], bar[3]["number"]))


def _task(job: Mapping[str, Any], attempt: Mapping[str, Any], start: int, end: int) -> str:
    tag = ATTEMPT_TAGS[attempt["status"]]
    if attempt["status"] == "succeeded" and job["status"] == "gate_failed":
        tag = GATE_FAILED_TAG
    number = attempt["number"]
    name = task_name(job["id"] + (f" (try {number})" if number > 1 else ""))
    return f"    {name} :{tag + ', ' if tag else ''}{start}, {end}"


def _axis_format(span_ms: int) -> str:
    """Tick labels that stay distinct and unambiguous over the run's length."""
    if span_ms < 10 * SECOND_MS:  # ticks under a second apart
        return "%H:%M:%S.%L"
    if span_ms < DAY_MS:
        return "%H:%M:%S"
    return "%m-%d %H:%M"  # a run over a day passes the same clock time twice


def task_name(text: str) -> str:
    """A gantt task name that is only ever a name, whatever the job id holds.

    Mermaid reads a line as a keyword (`section`, `click`, `excludes`...), a comment
    (`%%`), an entity (`#...;`) or a task's data (after `:`) by its characters, and
    which of them a future Mermaid adds is not ours to know: so a fixed prefix that no
    keyword starts with, then letters, digits and a few plain punctuation marks only.
    """
    kept = "".join(
        {"[": "(", "]": ")"}.get(c, c if c.isalnum() or c in TASK_NAME_PUNCTUATION else "_")
        for c in text
    )
    if len(kept) > TASK_NAME_MAX:
        kept = kept[: TASK_NAME_MAX - 1] + "…"
    return TASK_PREFIX + kept


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
