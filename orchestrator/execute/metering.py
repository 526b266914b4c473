"""What every running attempt uses, measured the cheapest exact way this host allows.

- CPU time: the attempt's v2 cgroup `cpu.stat` (a difference: cgroups are used again),
  else its processes sampled from /proc, plus the leader's `wait4` rusage.
- Peak memory, OOM kills and the memory limit: the attempt's v1 memory cgroup
  (memory_cgroups.py), whose limit the kernel enforces; else sampling the processes' PSS,
  where a sum over the limit is ours to act on (`look` names the attempts over theirs,
  and the supervisor stops them as a timeout would).
- I/O bytes: sampled with the rest where sampling runs, else the leader's rusage (its
  own and its reaped descendants').
- GPU memory: `nvidia-smi`, from a thread of its own (gpu_usage.py).

Where a cgroup counts everything, nothing is sampled, so measuring costs nothing while
jobs run. See usage.py for what each figure means.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.execute.cgroup_counters import cpu_seconds_v2, memory_now_v1, peak_memory_v1
from orchestrator.execute.descendants import CGROUP_VAR
from orchestrator.execute.gpu_usage import GpuWatcher
from orchestrator.execute.memory_cgroups import MemoryCgroups, MemorySlot
from orchestrator.execute.tree_sampler import (
    Schedule,
    TreeFigures,
    TreeSampler,
    cgroup_members,
    process_tree,
    timed,
)
from orchestrator.usage import Method, Usage, UsageSoFar, mean_cpu_percent

if TYPE_CHECKING:
    import resource


@dataclass
class _Measured:
    """One running attempt and how it is measured."""

    leader: int
    started: float
    cgroup: str | None
    cpu_before: float | None
    slot: MemorySlot | None
    limit: int | None
    sampler: TreeSampler | None
    schedule: Schedule | None
    over_limit: bool = False


#: Set to `off` to measure nothing (to see what measuring costs, in bench/usage.py).
USAGE_VAR = "TRAIN_ORCH_USAGE"


def _off(variable: str) -> bool:
    return os.environ.get(variable, "").lower() in {"off", "0", "no", "false"}


class Metering:
    """The figures of this run's attempts, from start to end."""

    def __init__(
        self, memory: MemoryCgroups | None, gpu: GpuWatcher | None, *, procfs: bool = True
    ) -> None:
        self._memory = memory
        self._gpu = gpu
        #: Whether there is a /proc to sample (Linux); without, only the leader's rusage.
        self._procfs = procfs
        self._running: dict[str, _Measured] = {}

    @classmethod
    def make(cls, *, cgroups: bool) -> Metering | None:
        """None with USAGE_VAR off. `cgroups`: whether attempts may get a memory cgroup
        (off forces sampling). Off Linux, only the leader's rusage: method `none`."""
        if _off(USAGE_VAR):
            return None
        if not sys.platform.startswith("linux"):
            return cls(None, None, procfs=False)
        return cls(MemoryCgroups.make() if cgroups else None, GpuWatcher.make())

    @classmethod
    def for_this_host(cls) -> Metering | None:
        """As the environment says: none with USAGE_VAR off, sampling with CGROUP_VAR off."""
        return cls.make(cgroups=not _off(CGROUP_VAR))

    @contextlib.contextmanager
    def spawning(self, limit: int | None) -> Iterator[MemorySlot | None]:
        """The block starts an attempt's leader inside a memory cgroup of `limit` bytes,
        when there is one (then the kernel enforces the limit)."""
        slot = self._memory.enter(limit) if self._memory is not None else None
        try:
            yield slot
        finally:
            if slot is not None and self._memory is not None and not self._memory.leave():
                slot = None  # we are still in it: never measure it as the attempt's

    def begin(
        self,
        key: str,
        leader: int,
        *,
        cgroup: str | None,
        slot: MemorySlot | None,
        limit: int | None,
    ) -> None:
        """The attempt `key` started: `leader`, in the v2 `cgroup` and the memory `slot`,
        if it got them. The cgroup's CPU count is read now: the leader has barely run."""
        now = time.monotonic()
        cpu_before = cpu_seconds_v2(cgroup) if cgroup is not None else None
        sampled_memory = slot is None
        sampler = schedule = None
        if self._procfs and (sampled_memory or cgroup is None or cpu_before is None):
            sampler = TreeSampler(leader, members_of(cgroup, leader), memory=sampled_memory)
            schedule = Schedule(now)
        self._running[key] = _Measured(
            leader, now, cgroup, cpu_before, slot, limit, sampler, schedule
        )
        if self._gpu is not None:
            self._gpu.watch(key, members_of(cgroup, leader))

    def due(self) -> float | None:
        """When the next look is due (monotonic), if any attempt is sampled."""
        dues = [m.schedule.due for m in self._running.values() if m.schedule is not None]
        return min(dues, default=None)

    def look(self, now: float) -> list[str]:
        """Look at the attempts due; the keys of those whose sampled memory is newly over
        their limit."""
        over: list[str] = []
        for key, measured in self._running.items():
            sampler, schedule = measured.sampler, measured.schedule
            if sampler is None or schedule is None or now < schedule.due:
                continue
            cost = timed(sampler.look)
            schedule.looked(time.monotonic(), cost)
            pss = sampler.peak_pss
            limit = measured.limit
            if limit is not None and pss is not None and pss > limit and not measured.over_limit:
                measured.over_limit = True
                over.append(key)
        return over

    def so_far(self) -> dict[str, UsageSoFar]:
        """Each running attempt's figures now, for the live view: a few counter files per
        attempt where cgroups count, else the sampler's last look (nothing is read)."""
        now = time.monotonic()
        return {key: _so_far(measured, now) for key, measured in self._running.items()}

    def end(self, key: str, leader: resource.struct_rusage | None, wall_s: float) -> Usage | None:
        """The attempt is over and its leader reaped (with `leader`, its rusage): its
        figures. None if it was never begun."""
        measured = self._running.pop(key, None)
        if measured is None:
            return None
        gpu = self._gpu.forget(key) if self._gpu is not None else None
        tree = measured.sampler.finish(leader) if measured.sampler is not None else None
        cpu = _cgroup_cpu(measured)
        if cpu is None and tree is not None:
            cpu = tree.cpu_s
        if cpu is None and leader is not None:  # no /proc: it and what it reaped
            cpu = leader.ru_utime + leader.ru_stime
        method: Method = "sampled" if tree is not None else "none"
        peak = tree.peak_memory_bytes if tree is not None else None
        oom = measured.over_limit
        if measured.slot is not None and self._memory is not None:
            method = "cgroup-v1"
            peak, killed = self._memory.finish(measured.slot)
            oom = oom or killed
        read, written = _io(tree, leader) if self._procfs else (None, None)
        return Usage(
            method=method,
            # To the microsecond: reports divide it by the wall time again, and a job of
            # a millisecond rounded to one would read as 0 % or 200 %.
            cpu_s=None if cpu is None else round(cpu, 6),
            peak_memory_bytes=peak,
            mean_cpu_percent=mean_cpu_percent(cpu, wall_s),
            read_bytes=read,
            write_bytes=written,
            gpu_peak_memory_bytes=gpu,
            sample_interval_s=_interval(measured),
            oom_killed=oom,
            memory_limit_bytes=measured.limit,
        )

    def close(self) -> None:
        if self._gpu is not None:
            self._gpu.close()
        if self._memory is not None:
            self._memory.close()


def members_of(cgroup: str | None, leader: int) -> Callable[[], set[int]]:
    """How to list an attempt's processes: its cgroup's, else its leader's tree."""
    if cgroup is not None:
        return lambda: cgroup_members(cgroup)
    return lambda: process_tree(leader)


def _so_far(measured: _Measured, now: float) -> UsageSoFar:
    """The attempt's figures now; those of the sampler are as of its last look, and the
    figure's time says so (the view's CPU % is a difference over that time)."""
    sampler, slot = measured.sampler, measured.slot
    cpu = _cgroup_cpu(measured)
    if cpu is None and sampler is not None and measured.schedule is not None:
        cpu, now = sampler.cpu_s, measured.schedule.last
    memory = peak = None
    if slot is not None:  # the kernel's count, less what earlier attempts left charged
        charged = memory_now_v1(slot.path)
        highest = peak_memory_v1(slot.path)
        memory = None if charged is None else max(0, charged - slot.charged_before)
        peak = None if highest is None else max(0, highest - slot.charged_before)
    elif sampler is not None:
        memory, peak = sampler.last_pss, sampler.peak_pss
    return UsageSoFar(now - measured.started, cpu, memory, peak)


def _cgroup_cpu(measured: _Measured) -> float | None:
    """The attempt's CPU seconds by its v2 cgroup's count, if it had one."""
    if measured.cgroup is None or measured.cpu_before is None:
        return None
    after = cpu_seconds_v2(measured.cgroup)
    return None if after is None else max(0.0, after - measured.cpu_before)


def _io(
    tree: TreeFigures | None, leader: resource.struct_rusage | None
) -> tuple[int | None, int | None]:
    """Bytes read and written: sampled, else the leader's rusage (512-byte blocks)."""
    if tree is not None:
        return tree.read_bytes, tree.write_bytes
    if leader is not None:
        return leader.ru_inblock * 512, leader.ru_oublock * 512
    return None, None


def _interval(measured: _Measured) -> float | None:
    if measured.schedule is None:
        return None
    return round(measured.schedule.longest, 3)
