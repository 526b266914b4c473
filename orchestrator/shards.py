"""Split the selected jobs across CI runners, and join the runners' summaries back.

Every runner computes the split on its own, so it must be a pure function of the job list
and the durations file: the same inputs give the same disjoint parts on every machine.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.outcome import exit_code_for
from orchestrator.report.summary import RunInfo, assemble, parse_iso

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/3"` → (2, 3); 1-based like GitHub's matrix and pytest-split."""
    match = _SHARD.match(text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise OrchestratorError(f"--shard {text}: expected K/N with 1 <= K <= N, e.g. 2/3")
    return int(match.group(1)), int(match.group(2))


def split(
    ids: Sequence[str],
    count: int,
    durations: Mapping[str, float],
    needs: Mapping[str, Sequence[str]] | None = None,
) -> list[list[str]]:
    """`count` disjoint parts covering `ids`, each in the original order.

    Jobs linked by `needs` stay on one runner: a job cannot use an upstream's outputs from
    another machine. Parts are filled longest first onto the least-loaded part (LPT),
    which keeps the slowest runner, and so the workflow, close to the ideal. Jobs with no
    recorded duration weigh the median of the known ones; with no durations at all every
    job weighs the same, which balances by count.
    """
    order = {job_id: index for index, job_id in enumerate(ids)}
    known = sorted(durations[i] for i in ids if i in durations)
    typical = known[len(known) // 2] if known else 1.0
    units = _linked_units(ids, needs or {})
    weight = {id(u): sum(durations.get(j, typical) for j in u) for u in units}
    parts: list[list[str]] = [[] for _ in range(count)]
    loads = [(0.0, part) for part in range(count)]
    for unit in sorted(units, key=lambda u: (-weight[id(u)], order[u[0]])):
        load, part = heapq.heappop(loads)
        parts[part].extend(unit)
        heapq.heappush(loads, (load + weight[id(unit)], part))
    return [sorted(part, key=order.__getitem__) for part in parts]


def _linked_units(ids: Sequence[str], needs: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Groups of jobs connected by needs (in either direction), each in `ids` order."""
    group = {job_id: job_id for job_id in ids}

    def root(job_id: str) -> str:
        while group[job_id] != job_id:
            job_id = group[job_id]
        return job_id

    for job_id in ids:
        for need in needs.get(job_id, ()):
            if need in group:
                group[root(need)] = root(job_id)
    units: dict[str, list[str]] = {}
    for job_id in ids:
        units.setdefault(root(job_id), []).append(job_id)
    return list(units.values())


def merge_summaries(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary as if one runner had run every shard's jobs."""
    if not summaries:
        raise OrchestratorError("merge: no summaries found")
    jobs: dict[str, Mapping[str, Any]] = {}
    for summary in summaries:
        for job in summary["jobs"]:
            if job["id"] in jobs:
                raise OrchestratorError(f"merge: job '{job['id']}' appears in two summaries")
            jobs[job["id"]] = job
    first = summaries[0]
    header_keys = ("host", "python", "orchestrator_version", "git_commit", "options", "backend")
    header = {key: first[key] for key in header_keys}
    allow_partial = bool(first["options"].get("allow_partial_success"))
    code = exit_code_for(
        [(Status(j["status"]), j["optional"]) for j in jobs.values()],
        allow_partial_success=allow_partial,
    )
    interrupted = next((s["interrupted_by"] for s in summaries if s["interrupted_by"]), None)
    if interrupted:
        code = max(s["exit_code"] for s in summaries)
    run = RunInfo(
        min(parse_iso(s["started_at"]) for s in summaries),
        max(parse_iso(s["ended_at"]) for s in summaries),
        code,
        interrupted,
    )
    return assemble(header, list(jobs.values()), run)
