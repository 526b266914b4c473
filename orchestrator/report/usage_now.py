"""What each running job uses, as the live view shows it: memory now and CPU % lately.

The figures come from the run's `UsageRead` events, read by execute from the counters the
summary's figures come from; the view reads no /proc and no cgroup itself.
"""

from __future__ import annotations

from orchestrator.events import UsageRead
from orchestrator.usage import UsageSoFar, format_bytes

#: The shortest time a CPU % is worked out over: over less, a process starting up (or a
#: counter the kernel updates in batches) reads as several hundred percent of one core.
MIN_WINDOW = 0.5


def cpu_percent(before: UsageSoFar | None, now: UsageSoFar) -> float | None:
    """CPU % of one core between two readings of an attempt; over its whole life so far
    when there is no earlier reading of it (its first, or a new attempt's). None over less
    than MIN_WINDOW seconds."""
    if now.cpu_s is None:
        return None
    if before is None or before.cpu_s is None or now.wall_s < before.wall_s:
        return 100 * now.cpu_s / now.wall_s if now.wall_s >= MIN_WINDOW else None
    window = now.wall_s - before.wall_s
    return 100 * max(0.0, now.cpu_s - before.cpu_s) / window if window >= MIN_WINDOW else None


class UsageNow:
    """Each running job's last reading, and its CPU % since an earlier one."""

    def __init__(self) -> None:
        #: By job: its last reading, the reading its percent was last worked out at, and
        #: that percent.
        self._last: dict[str, tuple[UsageSoFar, UsageSoFar | None, float | None]] = {}

    def read(self, event: UsageRead) -> None:
        for job_id, now in event.running:
            _, since, percent = self._last.get(job_id, (now, None, None))
            if since is not None and now.wall_s < since.wall_s:
                since, percent = None, None  # a new attempt under the same id
            fresh = cpu_percent(since, now)
            if fresh is None:
                # Too soon since (a sampler's look is rarer than a read-out): the percent
                # it last gave stands, rather than 0 % over no time.
                self._last[job_id] = (now, now if since is None else since, percent)
            else:
                self._last[job_id] = (now, now, fresh)

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
        now, _, percent = reading
        memory = "" if now.memory_bytes is None else format_bytes(now.memory_bytes)
        return memory, "" if percent is None else f"{percent:.0f}%"
