"""`summaries/summary.md`, also appended to GitHub's step summary: the run in five seconds.

A verdict line, one table row per job, failing jobs' log tails folded in `<details>`, and
a Mermaid gantt of when each job ran (GitHub renders it), built from the summary document
alone so a merged or rebuilt summary renders the same way.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.models import Status
from orchestrator.report.logs import tail_lines
from orchestrator.report.summary import (
    duration_text,
    higher_is_better,
    is_trial,
    parse_iso,
    ranked_metrics,
)

#: GitHub rejects a step summary over 1 MiB; keep a margin for what others append.
STEP_SUMMARY_LIMIT = 1024 * 1024 - 16 * 1024
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


def render(summary: Mapping[str, Any], base: Path, *, limit: int = STEP_SUMMARY_LIMIT) -> str:
    """The Markdown, shrinking log tails, then dropping parts, until it fits `limit` bytes."""
    for tail_count, timeline in ((50, True), (10, True), (0, True), (0, False)):
        text = _document(summary, base, tail_count=tail_count, timeline=timeline)
        if tail_count != 50:
            text += _shrunk_note(tail_count, timeline)
        if len(text.encode()) <= limit:
            return text
    cut = text.encode()[: limit - 100].decode("utf-8", "ignore")
    return cut + "\n\n> Truncated to fit GitHub's 1 MiB step summary; see summaries/.\n"


def _shrunk_note(tail_count: int, timeline: bool) -> str:
    dropped = f"log tails cut to {tail_count} lines" if tail_count else "log tails left out"
    if not timeline:
        dropped += " and the timeline left out"
    return f"\n> Shortened to fit GitHub's 1 MiB step summary: {dropped}. See the artifacts.\n"


def _document(summary: Mapping[str, Any], base: Path, *, tail_count: int, timeline: bool) -> str:
    jobs = summary["jobs"]
    parts = [verdict(summary), "", *job_table(jobs), *matrix_tables(jobs), *sweep_tables(jobs)]
    if tail_count:
        parts += [
            line for job in jobs if is_failure(job) for line in _log_tail(job, base, tail_count)
        ]
    if timeline and any(job["attempts"] for job in jobs):
        parts += ["", *gantt(summary)]
    return "\n".join(parts) + "\n"


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


def job_table(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One row per job; a sweep's trials are folded into its row (the sweep table has them)."""
    trials: dict[str, list[Mapping[str, Any]]] = {}
    for job in jobs:
        for tag in job["tags"]:
            if tag.startswith("sweep:"):
                trials.setdefault(tag.removeprefix("sweep:"), []).append(job)
    rows = ["| job | status | tries | time | metrics | gates |", "|---|---|---:|---:|---|---|"]
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
            cell(metrics_text(job)),
            cell(gates_text(job)),
        ]
        rows.append("| " + " | ".join(cells) + " |")
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
            scored = [(j["metrics"][metric], j["id"]) for j in done if metric in j["metrics"]]
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
            f"**Sweep `{cell(job['id'])}`** (study `{sweep['study']}`): "
            f"{cell(job['reason'] or job['status'])} · trials: {counts or 'none'}",
        ]
        if sweep.get("note"):
            lines.append(f"> {sweep['note']}")
        if sweep.get("best_params"):
            importances = sweep.get("importances") or {}
            lines += ["", "| param | best | importance |", "|---|---|---:|"]
            lines += [
                f"| {name} | {value} | {importances.get(name, '—')} |"
                for name, value in sweep["best_params"].items()
            ]
    return lines


def metrics_text(job: Mapping[str, Any]) -> str:
    if job["status"] not in {"succeeded", "gate_failed", "cached", "reused"}:
        return job["reason"] or ""
    ranked = ranked_metrics(job["metrics"], job["headline"])
    return ", ".join(f"{k} {v:.4g}" for k, v in ranked[:HEADLINE_METRICS])


def gates_text(job: Mapping[str, Any]) -> str:
    if job["status"] == "gate_failed":
        return f"✗ {job['reason']}"
    if job["gates"] and job["status"] == "succeeded":
        return "✓ " + ", ".join(job["gates"])
    return ", ".join(job["gates"]) or "—"


def is_failure(job: Mapping[str, Any]) -> bool:
    return job["status"] in {"failed", "timed_out", "gate_failed", "cancelled"}


def _log_tail(job: Mapping[str, Any], base: Path, count: int) -> Iterator[str]:
    lines = tail_lines(base / job["log_path"], count)
    yield ""
    yield (
        f"<details><summary>{ICONS[job['status']]} <code>{_html(job['id'])}</code> "
        f"{_html(job['reason'] or job['status'])}: last {len(lines)} lines of "
        f"<code>{_html(job['log_path'])}</code></summary>"
    )
    yield ""
    fence = "````" if any("```" in line for line in lines) else "```"
    yield f"{fence}text"
    yield from lines or ["(log is empty or missing)"]
    yield fence
    yield "</details>"


def gantt(summary: Mapping[str, Any]) -> list[str]:
    """Attempts as bars, one section per lane: the parallelism a reviewer wants to see."""
    start = parse_iso(summary["started_at"])
    bars = sorted(
        (parse_iso(a["started_at"]) - start, a["duration_s"], job["id"], a["status"], a["number"])
        for job in summary["jobs"]
        for a in job["attempts"]
    )
    lanes: list[float] = []  # when each lane becomes free
    sections: dict[int, list[str]] = {}
    for offset, duration, job_id, status, number in bars:
        # Start times are kept to the millisecond and durations rounded to it, so a job
        # started a tenth of a millisecond after the last one ended (as a sequential run
        # does) can seem to begin up to 1.5 ms before it: that lane is still free.
        lane = next((i for i, free in enumerate(lanes) if free <= offset + 2e-3), len(lanes))
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = offset + duration
        tag = "done" if status == "succeeded" else "crit"
        name = _mermaid(job_id) + (f" (try {number})" if number > 1 else "")
        end = offset + max(duration, 0.001)
        sections.setdefault(lane, []).append(f"    {name} :{tag}, {offset:.3f}, {end:.3f}")
    lines = [
        "```mermaid",
        "gantt",
        "    title When each job ran",
        "    dateFormat X",
        "    axisFormat %M:%S",
    ]
    for lane, tasks in sorted(sections.items()):
        lines += [f"    section worker {lane + 1}", *tasks]
    return [*lines, "```"]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mermaid(text: str) -> str:
    """Task names may not hold the characters Mermaid's gantt grammar uses."""
    return "".join({"[": "(", "]": ")"}.get(c, "_" if c in ":#;" else c) for c in text)
