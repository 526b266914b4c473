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

#: A sweep trial's tag, naming its sweep (`execute/trial_job.py`).
TRIAL_TAG = "sweep:"
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
        found.update(_measured_jobs(path, run_id, wanted - found.keys()))
        if wanted <= found.keys():
            break
    return found


def _measured_jobs(path: Path, run_id: str, wanted: set[str]) -> dict[str, Measured]:
    """The wanted jobs measured in one summary. A sweep runs no process of its own: it
    is measured by its trials (tagged `sweep:<id>`), the most any of them used."""
    found: dict[str, Measured] = {}
    try:
        for job in json.loads(path.read_text(encoding="utf-8"))["jobs"]:
            owner = _owner(job)
            if owner not in wanted or job.get("status") != Status.SUCCEEDED.value:
                continue
            measured = _of_last_attempt(job, run_id)
            if measured is not None:
                found[owner] = _most(found.get(owner), measured)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return found


def _owner(job: dict[str, Any]) -> str:
    """The id whose need a record tells: its own, or its sweep's for a trial."""
    for tag in job.get("tags") or ():
        if isinstance(tag, str) and tag.startswith(TRIAL_TAG):
            return tag.removeprefix(TRIAL_TAG)
    return str(job["id"])


def _most(one: Measured | None, other: Measured) -> Measured:
    if one is None:
        return other
    return Measured(
        other.run_id,
        max((m for m in (one.peak_memory_bytes, other.peak_memory_bytes) if m), default=None),
        max(
            (c for c in (one.mean_cpu_percent, other.mean_cpu_percent) if c is not None),
            default=None,
        ),
    )


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
