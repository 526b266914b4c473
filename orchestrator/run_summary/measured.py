"""What each job used the last time it succeeded, for `memory: auto` and `cpus: auto`.

Read once before planning, like the durations longest-first uses, so the plan stays a
value of its inputs. Only the figures needed are picked out of each summary (not `load`):
a plan never fails for want of history, and an odd old summary is passed over.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import Status
from orchestrator.run_summary.layout import SUMMARY_PREFIX, in_run_order, summary_name

#: Summaries looked through, newest first, for a job's last measured success: a job left
#: out of the last few runs (`--only`) still has its figures; an hour of scanning does not.
LOOKBACK = 20


@frozen_dataclass
class Measured:
    """One job's last measured success."""

    #: The run it comes from (`20261129T161200Z`), as --dry-run names it.
    run_id: str
    peak_memory_bytes: int | None
    mean_cpu_percent: float | None


def last_measured(summary_dir: Path, job_ids: Collection[str]) -> dict[str, Measured]:
    """For each of `job_ids`, its newest successful attempt with usage, if any run had one."""
    wanted = set(job_ids)
    found: dict[str, Measured] = {}
    if not wanted or not summary_dir.is_dir():
        return found
    newest_first = in_run_order(summary_dir.glob(summary_name("*")))[::-1][:LOOKBACK]
    for path in newest_first:
        run_id = path.name.removeprefix(SUMMARY_PREFIX).removesuffix(".json")
        for job_id, measured in _measured_jobs(path, run_id, wanted - found.keys()):
            found[job_id] = measured
        if wanted <= found.keys():
            break
    return found


def _measured_jobs(path: Path, run_id: str, wanted: set[str]) -> list[tuple[str, Measured]]:
    try:
        jobs = json.loads(path.read_text(encoding="utf-8"))["jobs"]
        return [
            (job["id"], measured)
            for job in jobs
            if job.get("id") in wanted
            and job.get("status") == Status.SUCCEEDED.value
            and (measured := _of_last_attempt(job, run_id)) is not None
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _of_last_attempt(job: dict[str, Any], run_id: str) -> Measured | None:
    attempts = job.get("attempts") or []
    usage = attempts[-1].get("usage") if attempts else None
    if not isinstance(usage, dict):
        return None
    peak, cpu = usage.get("peak_memory_bytes"), usage.get("mean_cpu_percent")
    peak = peak if isinstance(peak, int) and not isinstance(peak, bool) and peak > 0 else None
    cpu = _amount(cpu)
    if peak is None and cpu is None:
        return None
    return Measured(run_id=run_id, peak_memory_bytes=peak, mean_cpu_percent=cpu)


def _amount(value: object) -> float | None:
    """A finite, non-negative number (a hand-edited or odd summary may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
