"""The kernel's counters of a cgroup, read: CPU time, peak memory and OOM kills.

Each reader returns None where the file is missing or unreadable (a controller that is
not there, a cgroup removed meanwhile): a figure we cannot read is unknown, never an
error that costs a job its outcome. Counters are cumulative and our cgroups are used
again by later attempts, so an attempt's figure is a difference, or read after a reset.
"""

from __future__ import annotations

from orchestrator.execute import kernel_files


def parse_flat_keyed(text: str) -> dict[str, int]:
    """`key value` lines (cpu.stat, memory.oom_control)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            found[key] = int(value)
    return found


def _read(path: str) -> str | None:
    try:
        return kernel_files.read(path, 1 << 12).decode("ascii", errors="replace")
    except OSError:
        return None


def _keyed(path: str) -> dict[str, int] | None:
    text = _read(path)
    return None if text is None else parse_flat_keyed(text)


def cpu_seconds_v2(cgroup: str) -> float | None:
    """User + system CPU seconds from a v2 `cpu.stat`: a core file, there even where no
    controller is enabled (a hybrid host's v2 mount)."""
    stat = _keyed(f"{cgroup}/cpu.stat")
    if stat is None or "user_usec" not in stat or "system_usec" not in stat:
        return None
    return (stat["user_usec"] + stat["system_usec"]) / 1e6


def peak_memory_v1(cgroup: str) -> int | None:
    """The high-water mark of a v1 memory cgroup's charge, since it was made or reset."""
    text = _read(f"{cgroup}/memory.max_usage_in_bytes")
    return int(text) if text is not None and text.strip().isdigit() else None


def memory_now_v1(cgroup: str) -> int | None:
    """What a v1 memory cgroup is charged now (`memory.usage_in_bytes`)."""
    text = _read(f"{cgroup}/memory.usage_in_bytes")
    return int(text) if text is not None and text.strip().isdigit() else None


def oom_kills_v1(cgroup: str) -> int | None:
    """Processes the OOM killer has killed in a v1 memory cgroup (`memory.oom_control`)."""
    control = _keyed(f"{cgroup}/memory.oom_control")
    return None if control is None else control.get("oom_kill", 0)
