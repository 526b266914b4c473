"""One attempt's processes, sampled from /proc: their memory together, their CPU and I/O.

Where no cgroup counts an attempt's memory (or its CPU), we look at its processes now
and then. Each look sums the processes' proportional set size (PSS, from
`smaps_rollup`): a page shared by n processes counts 1/n in each, so a sum over a tree
of forked workers counts each page once, where a sum of RSS would count it n times.

CPU time and I/O bytes are cumulative per process and include the children it has
reaped (the kernel adds those when it reaps them), so the tree's total is the sum over
its live processes, plus what was last seen of a process that vanished without a parent
in the tree to inherit its figures (an orphan reaped by us). What ran between the last
look and the end is what the leader's `wait4` rusage adds back (see `finish`).

Reading a process's PSS walks every page it maps, so it is read again only once the
process's RSS (a counter, cheap to read) has moved by a tenth since; in between, its PSS
is taken to move as its RSS does (see `TreeSampler._pss`).

Looks are frequent at first, when a short job would otherwise end unseen, then rarer,
and never so frequent that their own cost passes a small share of the wait between
them (see `Schedule`).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from orchestrator.execute import kernel_files
from orchestrator.execute.procfs import children_of

#: Clock ticks per second, the unit of /proc/<pid>/stat's CPU times; bytes per page.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: How far a process's RSS may move from where its PSS was last read before it is read
#: again; in between, its PSS moves by as much as its RSS (new pages are its own).
REREAD_CHANGE = 0.1


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    """What /proc says of one process: who it is, and its cumulative counters (its own
    and its reaped children's)."""

    ppid: int
    started: int
    cpu_s: float
    read_bytes: int
    write_bytes: int
    #: Its state (`R`, `S`, `D`, ...), and whether it was forked and has not exec'd since.
    state: str = "R"
    forked: bool = False


#: The kernel's PF_FORKNOEXEC flag (/proc/<pid>/stat field 9): forked, no exec since.
_FORKNOEXEC = 0x40


def parse_stat(text: bytes) -> tuple[int, int, float, str, bool] | None:
    """(ppid, start time in ticks, CPU seconds of it and its reaped children, state,
    forked without exec) from a /proc/<pid>/stat line; None if it does not parse."""
    try:
        fields = text.rsplit(b")", 1)[1].split()
        ppid, started = int(fields[1]), int(fields[19])
        ticks = sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
        forked = bool(int(fields[6]) & _FORKNOEXEC)
    except (IndexError, ValueError):
        return None
    return ppid, started, ticks / _TICKS, fields[0].decode(errors="replace"), forked


def parse_io(text: bytes) -> tuple[int, int]:
    """Bytes read from and written to storage, from /proc/<pid>/io."""
    found = dict.fromkeys((b"read_bytes", b"write_bytes"), 0)
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key in found and value.strip().isdigit():
            found[key] = int(value)
    return found[b"read_bytes"], found[b"write_bytes"]


def parse_pss(text: bytes) -> int:
    """The `Pss:` of /proc/<pid>/smaps_rollup, in bytes (0 for a zombie's empty file)."""
    for line in text.splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _read(path: str) -> bytes | None:
    try:
        return kernel_files.read(path, 1 << 14)
    except OSError:
        return None


def read_process(pid: int) -> ProcessFigures | None:
    """The process's figures, or None once it is gone."""
    stat = _read(f"/proc/{pid}/stat")
    parsed = parse_stat(stat) if stat else None
    if parsed is None:
        return None
    io = _read(f"/proc/{pid}/io")
    read_bytes, write_bytes = parse_io(io) if io else (0, 0)
    ppid, started, cpu_s, state, forked = parsed
    return ProcessFigures(ppid, started, cpu_s, read_bytes, write_bytes, state, forked)


def pss_of(pid: int) -> int:
    text = _read(f"/proc/{pid}/smaps_rollup")
    return parse_pss(text) if text else 0


def rss_of(pid: int) -> int:
    """The process's resident set size, in bytes (/proc/<pid>/statm: a counter, cheap)."""
    text = _read(f"/proc/{pid}/statm")
    fields = text.split() if text else []
    return int(fields[1]) * _PAGE if len(fields) > 1 and fields[1].isdigit() else 0


def process_tree(leader: int) -> set[int]:
    """The leader and every descendant still in its tree."""
    found, pending = {leader}, [leader]
    while pending:
        for child in children_of(pending.pop()) - found:
            found.add(child)
            pending.append(child)
    return found


def cgroup_members(cgroup: str) -> set[int]:
    """Every process in the cgroup: daemons that left the tree included."""
    text = _read(f"{cgroup}/cgroup.procs")
    return {int(pid) for pid in text.split()} if text else set()


@dataclass(frozen=True, slots=True)
class TreeFigures:
    """An attempt's figures over all the looks at it, with its leader's rusage added."""

    cpu_s: float
    peak_memory_bytes: int | None
    read_bytes: int
    write_bytes: int


class TreeSampler:
    """The looks at one attempt's processes, `members()` each time (its process tree, or
    its cgroup's processes), `leader` first among them."""

    def __init__(
        self, leader: int, members: Callable[[], Iterable[int]], *, memory: bool = True
    ) -> None:
        self._leader = leader
        self._members = members
        self._memory = memory
        #: Each live process's figures at the last look, by (pid, start time).
        self._live: dict[tuple[int, int], ProcessFigures] = {}
        #: Each live process's RSS and PSS when its PSS was last read.
        self._read_at: dict[tuple[int, int], tuple[int, int]] = {}
        #: What vanished processes without a parent in the tree to inherit it had used.
        self._gone = (0.0, 0, 0)
        self._most = (0.0, 0, 0)
        self.peak_pss: int | None = None
        #: The last look's PSS sum (None before the first, or when memory is not sampled).
        self.last_pss: int | None = None

    @property
    def cpu_s(self) -> float:
        """The processes' CPU seconds at the last look (the live view's figure)."""
        return self._most[0]

    def look(self) -> int | None:
        """Look at the processes now: their PSS together (None unless measuring memory)."""
        live: dict[tuple[int, int], ProcessFigures] = {}
        for pid in self._members():
            figures = read_process(pid)
            if figures is not None:
                live[pid, figures.started] = figures
        pids = {pid for pid, _ in live}
        pss = 0
        if self._memory:
            # A vfork child runs in its parent's memory until it execs (the parent waits,
            # in state D): its smaps are its parent's, which must not count twice.
            waiting = {pid for (pid, _), f in live.items() if f.state == "D"}
            pss = sum(
                self._pss(pid, f.started)
                for (pid, _), f in live.items()
                if not (f.forked and f.ppid in waiting)
            )
        self._read_at = {key: self._read_at[key] for key in live if key in self._read_at}
        for key, figures in self._live.items():
            # The leader's figures, up to its end, are its rusage's (see `finish`).
            if key not in live and figures.ppid not in pids and key[0] != self._leader:
                self._gone = _plus(self._gone, figures)
        self._live = live
        now = self._gone
        for figures in live.values():
            now = _plus(now, figures)
        self._most = (
            max(self._most[0], now[0]),
            max(self._most[1], now[1]),
            max(self._most[2], now[2]),
        )
        if self._memory:
            self.peak_pss = max(self.peak_pss or 0, pss)
            self.last_pss = pss
            return pss
        return None

    def _pss(self, pid: int, started: int) -> int:
        """The process's PSS: read from smaps_rollup, which walks every page it maps (it
        costs as much as the process is big), only when its RSS has moved far enough
        since the last read to make the estimate from that read doubtful."""
        rss = rss_of(pid)
        before = self._read_at.get((pid, started))
        if before is not None and abs(rss - before[0]) <= before[0] * REREAD_CHANGE:
            return max(0, before[1] + rss - before[0])
        pss = pss_of(pid)
        self._read_at[pid, started] = (rss, pss)
        return pss

    def finish(self, leader: resource.struct_rusage | None) -> TreeFigures:
        """The attempt's figures, once its leader is reaped with `leader`'s rusage (its
        own and its reaped descendants': what ran after the last look included)."""
        cpu, read, written = self._most
        peak = self.peak_pss
        if leader is not None:
            cpu = max(cpu, leader.ru_utime + leader.ru_stime + self._gone[0])
            read = max(read, leader.ru_inblock * 512 + self._gone[1])
            written = max(written, leader.ru_oublock * 512 + self._gone[2])
            # A leader started by posix_spawn (vfork) inherits, at exec, our own RSS
            # high-water mark as its ru_maxrss: only a figure above ours is its own.
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if self._memory and leader.ru_maxrss > own:
                peak = max(peak or 0, leader.ru_maxrss * 1024)
        return TreeFigures(cpu, peak, read, written)


def _plus(total: tuple[float, int, int], figures: ProcessFigures) -> tuple[float, int, int]:
    return (
        total[0] + figures.cpu_s,
        total[1] + figures.read_bytes,
        total[2] + figures.write_bytes,
    )


class Schedule:
    """When to look next: FIRST seconds after the start, each wait GROWTH times the last up
    to LAST. Looks cost this thread CPU time, more for bigger processes: over an attempt,
    they may spend ALLOWANCE plus one COST_RATIO-th of its time so far, and no more, so
    that looking at eight jobs costs under 1 % of a core however big they are. A job
    growing fast is looked at often while it is young, whatever that costs it."""

    FIRST = 0.02
    GROWTH = 1.5
    LAST = 1.0
    COST_RATIO = 1000
    ALLOWANCE = 0.02

    def __init__(self, now: float) -> None:
        self._started = self._last = now
        self._wait = self.FIRST
        self._spent = 0.0
        self.due = now + self._wait
        #: The longest time between two looks so far: how short a spike may go unseen.
        self.longest = 0.0

    @property
    def last(self) -> float:
        """When the last look ended (the start, before the first): what it saw is as of then."""
        return self._last

    def looked(self, now: float, cost: float) -> None:
        """A look ended at `now` after `cost` CPU seconds; plan the next."""
        self.longest = max(self.longest, now - self._last)
        self._last = now
        self._spent += cost
        self._wait = min(self._wait * self.GROWTH, self.LAST)
        paid_off = self._started + (self._spent - self.ALLOWANCE) * self.COST_RATIO
        self.due = max(now + self._wait, paid_off)


def timed(look: Callable[[], object]) -> float:
    """Run `look`; the CPU seconds it cost this thread."""
    before = time.thread_time()
    look()
    return time.thread_time() - before
