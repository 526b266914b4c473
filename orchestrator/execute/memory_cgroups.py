"""A cgroup v1 `memory` cgroup per job attempt: its peak, its OOM kills and its limit.

The v2 cgroup per attempt (cgroups.py) needs no controller, and a hybrid host's v2
mount has none; the v1 `memory` hierarchy, where it is ours to write, gives what v2
alone cannot there: the kernel's high-water mark of the attempt's memory, a limit it
enforces, and a count of the processes its OOM killer took. So each attempt starts in
one of these too, parallel to its v2 cgroup, made below our own memory cgroup in the
same way (`train-orch.<pid>/slot-N`) and, like those, used again once emptied.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.execute import kernel_files
from orchestrator.execute.cgroup_counters import oom_kills_v1, peak_memory_v1
from orchestrator.execute.cgroup_slots import Slots, new_run_dir


@dataclass(frozen=True, slots=True)
class MemorySlot:
    """One attempt's memory cgroup, with its OOM kills and its charge before the attempt
    began (page cache left by earlier attempts)."""

    path: str
    oom_kills_before: int
    charged_before: int


class MemoryCgroups:
    """This run's directory in the v1 memory hierarchy, with an attempt's cgroup in it
    per running attempt (see cgroup_slots.py). Paths are strings, and files are written
    with os calls: this runs twice per job, and pathlib would double its cost."""

    def __init__(self, home: Path, run: Path) -> None:
        self._slots = Slots(home, run, lambda slot: not _read(f"{slot}/cgroup.procs").strip())
        self._me = str(os.getpid())
        #: Each cgroup's OOM kill count when its last attempt ended (a counter of the
        #: kernel's that nothing resets).
        self._kills: dict[str, int] = {}

    @classmethod
    def make(cls) -> MemoryCgroups | None:
        """Our run's memory cgroup directory; None where there is no v1 memory hierarchy
        or it is not ours to write."""
        home = own_v1_memory_cgroup()
        if home is None:
            return None
        run = new_run_dir(home)
        if run is None:
            return None
        made = cls(home, run)
        try:
            probe = made._slots.take()
            _write(f"{probe}/cgroup.procs", made._me)
            _write(made._slots.home_procs, made._me)
        except OSError:
            made.leave()
            made.close()
            return None
        made._slots.put_back(probe, empty=True)
        return made

    def enter(self, limit: int | None) -> MemorySlot | None:
        """Move this process into a fresh-looking cgroup for an attempt, `limit` bytes at
        most (None: no limit); None if that fails (the sampler then measures)."""
        try:
            slot = self._slots.take()
            _write(f"{slot}/memory.limit_in_bytes", "-1" if limit is None else str(limit))
            _write(f"{slot}/memory.max_usage_in_bytes", "0")  # down to what is charged now
            charged = peak_memory_v1(slot) or 0
            kills = self._kills.get(slot)
            if kills is None:
                kills = oom_kills_v1(slot) or 0
            _write(f"{slot}/cgroup.procs", self._me)
        except OSError:
            return None
        return MemorySlot(slot, kills, charged)

    def leave(self) -> bool:
        """Move this process back home; False if it could not."""
        try:
            _write(self._slots.home_procs, self._me)
        except OSError:
            return False
        return True

    def finish(self, slot: MemorySlot) -> tuple[int | None, bool]:
        """The attempt is over (its v2 cgroup, or the process tree, kills what is left):
        its peak, and whether the OOM killer killed a process of it.

        The peak leaves out what earlier attempts left charged to the cgroup (page cache
        of the files they wrote): dropping that before each attempt (`force_empty`) costs
        the loop milliseconds, and a reclaim of it during the attempt is all it can miss.
        A peak no higher than that charge is unknown, not 0 B: the kernel charges pages in
        per-CPU batches, and a job of a few pages may not move the counter at all."""
        path = slot.path
        kills = oom_kills_v1(path)
        if kills is not None:
            self._kills[path] = kills
        self._slots.put_back(path)
        peak = peak_memory_v1(path)
        oom_killed = (kills or 0) > slot.oom_kills_before
        own = None if peak is None else peak - slot.charged_before
        return (own if own and own > 0 else None), oom_killed

    def close(self) -> None:
        """Remove every cgroup of ours once empty (an empty v1 memory cgroup's charge,
        page cache, moves to its parent)."""
        self._slots.close()


def _read(path: str) -> bytes:
    """The file's first bytes; a non-empty answer when it cannot be read (busy, to be safe)."""
    try:
        return kernel_files.read(path, 64)
    except OSError:
        return b"?"


def _write(path: str, value: str) -> None:
    kernel_files.write(path, value.encode())


def own_v1_memory_cgroup() -> Path | None:
    """This process's cgroup in the v1 memory hierarchy, as a directory; None without one."""
    try:
        memberships = Path("/proc/self/cgroup").read_text()
        mounts = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    path = None
    for line in memberships.splitlines():
        _, controllers, where = [*line.split(":", 2), "", ""][:3]
        if "memory" in controllers.split(","):
            path = where
    if path is None:
        return None
    for line in mounts.splitlines():
        before, _, after = line.partition(" - ")
        fields, kind = before.split(), after.split()
        if kind[:1] == ["cgroup"] and len(kind) > 2 and "memory" in kind[2].split(","):
            root, mount = fields[3], fields[4]
            if root in ("/", path) or path.startswith(root + "/"):
                inner = path[len(root) :] if root != "/" else path
                return Path(mount, inner.lstrip("/"))
    return None
