"""What this machine can lend running jobs, read once when a run is planned.

The plan itself stays pure (`orchestrator.resources`); this is the part that asks the
host, called by the pipeline only for plans that run here.
"""

from __future__ import annotations

import os
from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def available_memory(meminfo: Path = MEMINFO) -> int | None:
    """Bytes the kernel could hand out now without swapping (`MemAvailable`), else the
    physical memory (off Linux), else None."""
    try:
        for line in meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == "MemAvailable":
                return int(rest.split()[0]) * 1024  # the kernel writes kB and means KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
