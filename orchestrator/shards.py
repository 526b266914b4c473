"""Split the selected jobs across CI runners, and join the runners' summaries back.

In CI the plan job splits once and hands each runner its job ids (`--shard-jobs`); a
runner that splits on its own (`--shard K/N`) relies on the split being a pure function
of the job list and the durations file, so it is one.
"""

from __future__ import annotations

import heapq
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.models import Status
from orchestrator.outcome import EXIT_FAILED, exit_code_for
from orchestrator.report.summary import RunInfo, assemble
from orchestrator.run_summary import JobRecord, RunSummary, parse_iso

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


def parse_matrix(text: str) -> dict[str, list[str]]:
    """plan-shards' JSON matrix → each shard's label and job ids."""
    try:
        include = json.loads(text)["include"]
        pairs = [(str(entry["shard"]), entry["jobs"]) for entry in include]
        shards = dict(pairs)
        if len(shards) != len(pairs) or not all(isinstance(ids, list) for ids in shards.values()):
            raise TypeError("each shard once, with a list of job ids")
    except (ValueError, KeyError, TypeError):
        raise OrchestratorError(
            "--expect-plan: not a plan-shards matrix; "
            'expected {"include": [{"shard": "1/2", "jobs": ["id", ...]}, ...]}'
        ) from None
    if not all(isinstance(i, str) for ids in shards.values() for i in ids):
        raise OrchestratorError("--expect-plan: job ids must be strings")
    return shards


def merge_summaries(
    summaries: Sequence[RunSummary],
    expected: Mapping[str, Sequence[str]] | None = None,
    *,
    header: Mapping[str, Any] | None = None,
) -> RunSummary:
    """One summary as if one runner had run every shard's jobs.

    With `expected` (shard label → job ids, as planned), a planned job that no shard
    reported is recorded as skipped, which fails the run; a job the plan did not give any
    shard means the shards did not run the plan, and nothing is merged. `header` stands
    for the shards' when none reported at all.
    """
    if not summaries:
        if expected is None or header is None:
            raise OrchestratorError("merge: no summaries found")
        now = time.time()
        never = list(_missing_jobs({}, expected).values())
        return assemble(header, never, RunInfo(now, now, EXIT_FAILED))
    jobs: dict[str, JobRecord] = {}
    for summary in summaries:
        shard = summary.options.get("shard")
        for job in summary.jobs:
            if job.id in jobs:
                raise OrchestratorError(f"merge: job '{job.id}' appears in two summaries")
            # Which runner ran it: the timeline draws each runner's workers apart.
            jobs[job.id] = replace(job, shard=shard) if shard else job
    if expected is not None:
        jobs.update(_missing_jobs(jobs, expected))
    first = summaries[0]
    # The merged run is the whole run, not the first shard: reports treat it as such.
    options = {**first.options, "shard": None, "shard_jobs": None}
    code = exit_code_for(
        [(job.status, job.optional) for job in jobs.values()],
        allow_partial_success=bool(options.get("allow_partial_success")),
        enforce_gates=options.get("gates", "enforce") == "enforce",
    )
    interrupted = next((s.interrupted_by for s in summaries if s.interrupted_by), None)
    if interrupted:
        code = max(code, *(s.exit_code for s in summaries))
    run = RunInfo(
        min(s.started for s in summaries),
        max(parse_iso(s.ended_at) for s in summaries),
        code,
        interrupted,
    )
    header = {
        "host": first.host,
        "python": first.python,
        "orchestrator_version": first.orchestrator_version,
        "git_commit": first.git_commit,
        "options": options,
        "backend": first.backend,
    }
    return assemble(header, list(jobs.values()), run)


def _missing_jobs(
    reported: Mapping[str, JobRecord], expected: Mapping[str, Sequence[str]]
) -> dict[str, JobRecord]:
    planned = {job_id: shard for shard, ids in expected.items() for job_id in ids}
    extra = [
        job_id for job_id, job in reported.items() if job_id not in planned and not job.is_trial
    ]
    if extra:
        raise OrchestratorError(
            f"merge: {', '.join(map(repr, extra))} ran but the plan gave no shard "
            "that job; the shards did not run the plan"
        )
    return {
        job_id: _never_reported(job_id, shard)
        for job_id, shard in planned.items()
        if job_id not in reported
    }


def _never_reported(job_id: str, shard: str) -> JobRecord:
    """A record for a planned job no shard reported, so every report shows the gap."""
    return JobRecord(
        id=job_id,
        status=Status.SKIPPED,
        argv=("(not run)",),
        reason=f"shard {shard} never reported it",
        log_path=f"logs/{job_id}.log",
    )
