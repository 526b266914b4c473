"""Everything a job attempt started, found and killed when the attempt ends (Linux).

A job's process group holds what it starts until a descendant leaves it: a daemon calls
setsid(), often clears its environment, and its parent exits. Two ways to find those,
the kernel's first:

- **cgroup-v2**: each attempt starts in a cgroup of its own, made below this process's
  cgroup in the v2 hierarchy when we may write there. The kernel keeps every descendant
  in it, whatever it does to its session or environment, and `cgroup.kill` (Linux 5.14)
  kills them all at once when the attempt ends. No controller is needed, so the
  controller-less v2 mount of a hybrid v1/v2 host serves as well as a pure v2 one.
- **process-tree**: as the subreaper of our descendants (PR_SET_CHILD_SUBREAPER), every
  orphaned descendant becomes our child. Each is put down to the attempts it may belong
  to: the one whose tree it was last seen in (the running attempts' trees are walked at
  every check), else those running when it started (its start time), narrowed by the job
  its environment names if it kept one. It is killed once none of them runs: one that was
  never seen in a tree and forked while two attempts ran lives until both have ended.

Either way, as subreaper we reap the orphans that exit, and `close` kills what is left.
Not Linux: neither is available, and only a job's process group is stopped.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.execute import groups
from orchestrator.execute.cgroup_slots import CLOSE_WAIT
from orchestrator.execute.cgroups import JobCgroups
from orchestrator.execute.procfs import children_of, kill_tree, our_children, reaped, start_time

#: Set to `off` to use the process tree even where a cgroup could be made (tests, or a
#: host whose cgroup tooling must not see ours).
CGROUP_VAR = "TRAIN_ORCH_CGROUP"
#: prctl option (linux/prctl.h): orphaned descendants are re-parented to us, not init.
PR_SET_CHILD_SUBREAPER = 36
#: Seconds between looks for orphans while jobs run (and after a job ends).
ORPHAN_CHECK_EVERY = 0.5
#: The grace of an orphan's group when no attempt it may belong to runs.
ORPHAN_GRACE = 10.0
#: How long after a job ends its orphans may outlive it without a cgroup: a look per
#: ended job costs a /proc read per child, which short jobs on busy cores feel.
ORPHAN_CHECK_AFTER_END = 0.05
#: Clock ticks of /proc start times; one tick of slack either side of an attempt's span.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class _Attempt:
    job: str | None
    leader: int
    cgroup: str | None
    #: Its span in clock ticks since boot, the clock of /proc start times.
    began: int
    ended: int | None = None


class Descendants:
    """The descendants of this process's job attempts: whose each is, and their end."""

    def __init__(self, libc: Any, tag_var: str, cgroups: JobCgroups | None) -> None:
        self._libc = libc
        self.tag_var = tag_var
        self._prefix = f"{tag_var}=".encode()
        self._cgroups = cgroups
        self._attempts: dict[int, _Attempt] = {}
        #: Where each descendant was last seen: pid -> (its start time, the attempt).
        self._seen: dict[int, tuple[int, int]] = {}
        self._serial = 0
        #: The groups of live orphans the group listener was told of (see `look`).
        self._orphan_groups: set[int] = set()

    @classmethod
    def adopt(cls, tag_var: str) -> Descendants | None:
        """Become the subreaper of our descendants; None where Linux does not let us."""
        if not sys.platform.startswith("linux"):
            return None
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
                return None
        except (OSError, AttributeError):
            return None
        wanted = os.environ.get(CGROUP_VAR, "").lower() not in {"off", "0", "no", "false"}
        return cls(libc, tag_var, JobCgroups.make() if wanted else None)

    @property
    def kind(self) -> str:
        """How descendants are found: `cgroup-v2` or `process-tree`."""
        return "cgroup-v2" if self._cgroups is not None else "process-tree"

    # ------------------------------------------------------------------- attempts
    @contextlib.contextmanager
    def spawning(self, job: str | None) -> Iterator[int]:
        """The block starts one attempt's leader (of `job`); yields the attempt's number.

        With cgroups the block runs with this process in the attempt's cgroup, so the
        leader is born in it and nothing it forks, however soon, starts outside it."""
        self._serial += 1
        attempt = _Attempt(job, 0, None, _now_ticks())
        self._attempts[self._serial] = attempt
        if self._cgroups is not None:
            attempt.cgroup = self._cgroups.enter(self._serial)
        try:
            yield self._serial
        finally:
            if attempt.cgroup is not None and not self._cgroups_left(attempt.cgroup):
                attempt.cgroup = None  # we are still in it: it must never be killed

    def started(self, attempt: int, leader: int) -> None:
        """The attempt's leader is `leader`; its start time opens the attempt's span."""
        found = self._attempts[attempt]
        found.leader = leader
        found.began = start_time(leader) or found.began

    def cgroup_of(self, attempt: int) -> str | None:
        found = self._attempts.get(attempt)
        return found.cgroup if found else None

    def ended(self, attempt: int, leaders: set[int]) -> None:
        """The attempt is over: whatever is left of it dies now (with a cgroup, all of it;
        without, the orphans known to be its own; `check` soon after finds the rest)."""
        found = self._attempts.get(attempt)
        if found is None:
            return
        found.ended = _now_ticks() + 1
        if found.cgroup is not None and self._cgroups is not None:
            self._cgroups.end(found.cgroup)
        else:
            self.check(leaders)

    # ------------------------------------------------------------------- orphans
    def reap_exited(self, leaders: set[int]) -> None:
        """Reap the orphans that have exited, leaving the leaders (jobs) alone."""
        for pid in our_children() - leaders:
            reaped(pid)

    def check(self, leaders: set[int]) -> dict[int, int | None]:
        """Kill the orphans no running attempt may own; reap those that exited; forget
        ended attempts nothing is left of. The orphans left alive, each with the attempt
        it belongs to when that is known."""
        running = {n for n, a in self._attempts.items() if a.ended is None}
        self._walk(running)
        alive: dict[int, int | None] = {}
        owners_alive: set[int] = set()
        for pid in our_children() - leaders:
            if reaped(pid):
                continue
            owners = self._owners(pid)
            if owners & running:
                alive[pid] = min(owners & running) if len(owners & running) == 1 else None
                owners_alive |= owners
            else:
                kill_tree(pid)
        for number in [n for n, a in self._attempts.items() if a.ended is not None]:
            if number not in owners_alive:
                del self._attempts[number]
        return alive

    def look(self, leaders: set[int], graces: Mapping[int | None, float], jobs: set[int]) -> None:
        """`check`, then tell the group listener (the watchdog) of the groups of live
        orphans (a daemon leads its own after setsid), with their attempt's grace, so that
        they too are stopped if we die. `jobs`: the running attempts' groups."""
        alive = self.check(leaders)
        told = groups.listener()
        if told is None:
            return
        found: dict[int, float] = {}
        for pid, attempt in alive.items():
            with contextlib.suppress(OSError):
                pgid = os.getpgid(pid)
                if pgid not in jobs and pgid != os.getpgid(0):
                    found[pgid] = graces.get(attempt, ORPHAN_GRACE)
        for pgid in found.keys() - self._orphan_groups:
            told.adopted(pgid, found[pgid])
        for pgid in self._orphan_groups - found.keys():
            told.ended(pgid)
        self._orphan_groups = set(found)

    def close(self) -> None:
        """Kill every descendant still alive and reap it; stop being the subreaper."""
        if self._cgroups is not None:
            self._cgroups.end_all()
        deadline = time.monotonic() + CLOSE_WAIT
        while (orphans := our_children()) and time.monotonic() < deadline:
            for pid in orphans:
                if not reaped(pid):
                    kill_tree(pid)
            time.sleep(0.01)
        if self._cgroups is not None:
            self._cgroups.close()
        self._libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

    def _cgroups_left(self, cgroup: str) -> bool:
        assert self._cgroups is not None
        return self._cgroups.leave(cgroup)

    def _walk(self, running: set[int]) -> None:
        """Note which running attempt each descendant in its leader's tree belongs to."""
        if self._cgroups is not None:  # the cgroup knows better, and costs nothing to ask
            return
        seen: dict[int, tuple[int, int]] = {}
        for number in running:
            pending = [self._attempts[number].leader]
            while pending:
                pid = pending.pop()
                for child in children_of(pid):
                    started = start_time(child)
                    if started is not None and child not in seen:
                        seen[child] = (started, number)
                        pending.append(child)
        # What was seen before and is not in a tree now may be an orphan of ours: keep it.
        self._seen = {**{p: s for p, s in self._seen.items() if p not in seen}, **seen}
        self._seen = {p: s for p, s in self._seen.items() if start_time(p) == s[0]}

    def _owners(self, pid: int) -> set[int]:
        """The attempts `pid` may belong to (see the module's docstring)."""
        started = start_time(pid)
        if started is None:
            return set()
        seen = self._seen.get(pid)
        if seen is not None and seen[0] == started:
            return {seen[1]}
        if self._cgroups is not None:
            number = self._cgroups.attempt_of(pid)
            if number is not None:
                return {number}
        owners = {
            n
            for n, a in self._attempts.items()
            if a.began <= started and (a.ended is None or started <= a.ended)
        }
        job = self._job_named(pid)
        named = {n for n in owners if self._attempts[n].job == job}
        return named if job is not None and named else owners

    def _job_named(self, pid: int) -> str | None:
        try:
            entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return None
        found = next((e for e in entries if e.startswith(self._prefix)), None)
        return found[len(self._prefix) :].decode(errors="replace") if found else None


def _now_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS)
