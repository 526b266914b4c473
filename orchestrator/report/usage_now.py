"""What each running job uses, as the live view shows it: memory now and CPU % lately.

The figures come from the run's `UsageRead` events, read by execute from the counters the
summary's figures come from; the view reads no /proc and no cgroup itself.
"""

from __future__ import annotations

from orchestrator.events import UsageRead
from orchestrator.usage import UsageSoFar, format_bytes


def cpu_percent(before: UsageSoFar | None, now: UsageSoFar) -> float | None:
    """CPU % of one core between two readings of an attempt; over its whole life so far
    when there is no earlier reading of it (its first, or a new attempt's)."""
    if now.cpu_s is None:
        return None
    if before is None or before.cpu_s is None or now.wall_s < before.wall_s:
        return 100 * now.cpu_s / now.wall_s if now.wall_s > 0 else None
    return 100 * max(0.0, now.cpu_s - before.cpu_s) / (now.wall_s - before.wall_s)


class UsageNow:
    """Each running job's last reading, and its CPU % since the one before."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[UsageSoFar, float | None]] = {}

    def read(self, event: UsageRead) -> None:
        for job_id, now in event.running:
            before = self._last.get(job_id)
            if before is not None and now.wall_s == before[0].wall_s:
                # Nothing looked at it since (a sampler's look is rarer than a read-out):
                # the same figures, and the percent they gave.
                self._last[job_id] = (now, before[1])
            else:
                self._last[job_id] = (now, cpu_percent(None if before is None else before[0], now))

    def forget(self, job_id: str) -> None:
        """The job's attempt ended: its next one starts from nothing."""
        self._last.pop(job_id, None)

    def __bool__(self) -> bool:
        return bool(self._last)

    def cells(self, job_id: str) -> tuple[str, str]:
        """`412 MiB`, `97%`; empty where nothing was read (yet, or on Ray)."""
        reading = self._last.get(job_id)
        if reading is None:
            return "", ""
        now, percent = reading
        memory = "" if now.memory_bytes is None else format_bytes(now.memory_bytes)
        return memory, "" if percent is None else f"{percent:.0f}%"
