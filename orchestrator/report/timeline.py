"""The run's timeline in the Markdown report: a Mermaid gantt of when each attempt ran.

GitHub draws it in the step summary, where a reviewer sees at a glance what ran in
parallel and what waited. Everything a job controls (its id above all) is made a plain
task name first, so no job can make Mermaid read a line as anything but a task.
"""

from __future__ import annotations

from orchestrator.models import Status
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary, parse_iso

#: Mermaid draws an error instead of a chart whose text is longer (its `maxTextSize`).
MERMAID_MAX_TEXT = 50_000
#: The tag, and so the CSS class and colour (named for the default theme), that Mermaid
#: draws an attempt's bar with. done (grey): a success. crit (red): a failure, time-out
#: or cancellation, as `markdown.is_failure` counts them. active (blue): a success whose job then
#: failed its gates, a failing job but not a failed run. None (the plain task colour): a
#: sweep trial its sampler pruned on purpose, which is neither.
ATTEMPT_TAGS = {
    Status.SUCCEEDED: "done",
    Status.FAILED: "crit",
    Status.TIMED_OUT: "crit",
    Status.OUT_OF_MEMORY: "crit",
    Status.CANCELLED: "crit",
    Status.PRUNED: "",
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


def timeline(summary: RunSummary) -> list[str]:
    """The gantt, or a note where Mermaid would draw an error instead of a chart that long."""
    chart = gantt(summary)
    size = len("\n".join(chart[1:-1]).encode("utf-16-le")) // 2  # JavaScript's length
    if size <= MERMAID_MAX_TEXT:
        return chart
    bars = sum(len(job.attempts) for job in summary.jobs)
    return [
        f"> The timeline of {bars} attempts is left out: Mermaid draws no chart longer than "
        f"{MERMAID_MAX_TEXT:,} characters. The summary JSON has each attempt's times."
    ]


def gantt(summary: RunSummary) -> list[str]:
    """Attempts as bars, one section per lane: the parallelism a reviewer wants to see.

    Dates are integer epoch milliseconds (`dateFormat x`): Mermaid parses task dates
    strictly when it draws, and `X` takes no fractional seconds. Being real instants, the
    axis shows them as clock times in the viewer's own time zone (Mermaid formats ticks
    in local time and has no UTC option), right for every viewer; offsets from zero would
    print correct elapsed times only for viewers in UTC.
    """
    bars = _bars(summary)
    # Lanes are found per CI runner and per Ray node: a merged run's shards ran on separate
    # machines, a Ray run's attempts on its nodes, and a lane shared between two would
    # name one worker for both.
    lanes: dict[tuple[str | None, str | None], list[int]] = {}  # when each lane is free
    sections: dict[tuple[int, str | None, str, int], list[str]] = {}
    for start, end, job, attempt in bars:
        free_at = lanes.setdefault((job.shard, attempt.node), [])
        # Start times are kept to the millisecond and durations rounded to it, so a job
        # started a tenth of a millisecond after the last one ended (as a sequential run
        # does) can seem to begin up to 1.5 ms before it: that lane is still free.
        lane = next((i for i, free in enumerate(free_at) if free <= start + 2), len(free_at))
        if lane == len(free_at):
            free_at.append(0)
        free_at[lane] = end
        key = (_shard_number(job.shard), job.shard, attempt.node or "", lane)
        sections.setdefault(key, []).append(_task(job, attempt, start, end))
    span = max(end for _, end, _, _ in bars) - bars[0][0] if bars else 0
    # Mermaid leaves 75 px for section names: "shard 2/3 · worker 1" would run into the bars.
    wide = any(shard or node for _, shard, node, _ in sections)
    config = ["---", "config:", "  gantt:", "    leftPadding: 170", "---"] if wide else []
    lines = [
        "```mermaid",
        *config,
        "gantt",
        "    title When each job ran (clock times in your time zone)",
        "    dateFormat x",
        f"    axisFormat {_axis_format(span)}",
        "    todayMarker off",  # today's line would stretch the axis out to the present
    ]
    for (_, shard, node, lane), tasks in sorted(sections.items(), key=_section_order):
        runner = f"shard {task_name(shard).removeprefix(TASK_PREFIX)} · " if shard else ""
        # A node id is hex digits as Ray makes it, but a summary is input: kept plain.
        where = f"node {task_name(node).removeprefix(TASK_PREFIX)} · " if node else ""
        lines += [f"    section {runner}{where}worker {lane + 1}", *tasks]
    return [*lines, "```"]


def _section_order(
    item: tuple[tuple[int, str | None, str, int], list[str]],
) -> tuple[int, str, int]:
    """Shards by number, then nodes by id, then lanes."""
    number, _, node, lane = item[0]
    return number, node, lane


def _shard_number(shard: str | None) -> int:
    """`"2/3"` → 2, so shard 10 is drawn after shard 9; 0 for a run that was not sharded."""
    head = (shard or "").partition("/")[0]
    return int(head) if head.isdigit() else 0


def _bars(summary: RunSummary) -> list[tuple[int, int, JobRecord, AttemptRecord]]:
    """(start, end, job, attempt) per attempt in epoch ms, by start; no bar is 0 ms long."""
    bars = []
    for job in summary.jobs:
        for attempt in job.attempts:
            start = round(parse_iso(attempt.started_at) * SECOND_MS)
            end = start + max(1, round(attempt.duration_s * SECOND_MS))
            bars.append((start, end, job, attempt))
    return sorted(bars, key=lambda bar: (bar[0], bar[1], bar[2].id, bar[3].number))


def _task(job: JobRecord, attempt: AttemptRecord, start: int, end: int) -> str:
    tag = ATTEMPT_TAGS[attempt.status]
    if attempt.status is Status.SUCCEEDED and job.status is Status.GATE_FAILED:
        tag = GATE_FAILED_TAG
    number = attempt.number
    name = task_name(job.id + (f" (try {number})" if number > 1 else ""))
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
