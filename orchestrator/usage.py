"""What one job attempt used: CPU time, peak memory, I/O and GPU memory, and how we know.

Peak memory has two definitions, and `method` says which one a figure is:

- `cgroup-v1` / `cgroup-v2`: the kernel's high-water mark of the attempt's cgroup charge,
  every process of the attempt together, page cache it caused included.
- `sampled`: the largest sum, over the attempt's processes, of their proportional set
  size (PSS) seen by sampling `/proc`, or the largest single process's resident peak if
  that is higher (it catches a spike between two samples). PSS, not RSS: pages shared
  after `fork` (a data loader's workers, shared libraries) are split among the processes
  sharing them, so a sum over the tree counts each page once.
- `none`: nothing measured it (not Linux: no /proc); memory and I/O are None.

CPU time is user + system time of the whole tree, from the cgroup's `cpu.stat` when a
cgroup holds the attempt, else from `/proc` and the leader's `wait4` rusage; without
/proc, the leader's rusage alone (it and the descendants it reaped).
"""

from __future__ import annotations

from typing import Literal

from orchestrator.frozen_dataclass import frozen_dataclass

Method = Literal["cgroup-v2", "cgroup-v1", "sampled", "none"]
METHODS: tuple[Method, ...] = ("cgroup-v2", "cgroup-v1", "sampled", "none")


@frozen_dataclass
class Usage:
    #: How peak memory was measured (see the module's docstring).
    method: Method
    #: User + system CPU seconds of every process of the attempt.
    cpu_s: float | None = None
    peak_memory_bytes: int | None = None
    #: CPU time over wall time, in percent of one core (400 = four cores busy throughout).
    mean_cpu_percent: float | None = None
    #: Bytes the attempt made the storage layer fetch and write (not page-cache hits).
    read_bytes: int | None = None
    write_bytes: int | None = None
    #: The largest GPU memory the attempt's processes held together (NVIDIA only).
    gpu_peak_memory_bytes: int | None = None
    #: The longest wait between two samples, when sampling measured anything.
    sample_interval_s: float | None = None
    #: The kernel's OOM killer, or our own memory limit, killed a process of the attempt.
    oom_killed: bool = False
    #: The job's `memory_limit`, when it had one.
    memory_limit_bytes: int | None = None


def mean_cpu_percent(cpu_s: float | None, wall_s: float) -> float | None:
    """CPU seconds over wall seconds, in percent of one core; None when either is unknown."""
    if cpu_s is None or wall_s <= 0:
        return None
    return round(100.0 * cpu_s / wall_s, 1)


def format_bytes(amount: int) -> str:
    """`212 MiB`, `2.0 GiB`: binary units, the ones `memory_limit: 512M` is written in."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if amount >= size:
            figure = amount / size
            return f"{figure:.1f} {unit}" if figure < 10 else f"{figure:.0f} {unit}"
    return f"{amount} B"


def out_of_memory(usage: Usage) -> str:
    """Why an attempt killed for memory died, with its peak."""
    peak = f" (peak {format_bytes(usage.peak_memory_bytes)})" if usage.peak_memory_bytes else ""
    if usage.memory_limit_bytes is not None:
        return f"over memory_limit {format_bytes(usage.memory_limit_bytes)}{peak}"
    return f"killed by the OOM killer{peak}"


@frozen_dataclass
class UsageSoFar:
    """A running attempt's figures now, for the live view: read from the same counters
    its final `Usage` comes from (its cgroups, else the sampler's last look)."""

    #: Seconds from the attempt's start to when `cpu_s` was read (a sampler's last look).
    wall_s: float
    #: User + system CPU seconds of its processes so far.
    cpu_s: float | None = None
    #: Bytes its processes hold now (the cgroup's charge, or the last look's PSS sum).
    memory_bytes: int | None = None
    #: The most they held so far, by the same measure.
    peak_memory_bytes: int | None = None
