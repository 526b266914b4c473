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
import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
#: How long `close` keeps killing and reaping orphans before it gives up on them.
CLOSE_WAIT = 2.0
#: Clock ticks of /proc start times; one tick of slack either side of an attempt's span.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

#: Pids of our children that are neither jobs nor their orphans (the watchdog).
HELPERS: set[int] = set()


@dataclass
class _Attempt:
    job: str | None
    leader: int
    cgroup: Path | None
    #: Its span in clock ticks since boot, the clock of /proc start times.
    began: int
    ended: int | None = None


class Descendants:
    """The descendants of this process's job attempts: whose each is, and their end."""

    def __init__(self, libc: Any, tag_var: str, cgroups: _Cgroups | None) -> None:
        self._libc = libc
        self.tag_var = tag_var
        self._prefix = f"{tag_var}=".encode()
        self._cgroups = cgroups
        self._attempts: dict[int, _Attempt] = {}
        #: Where each descendant was last seen: pid -> (its start time, the attempt).
        self._seen: dict[int, tuple[int, int]] = {}
        self._serial = 0

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
        return cls(libc, tag_var, _Cgroups.make() if wanted else None)

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
        return str(found.cgroup) if found and found.cgroup else None

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
            _reaped(pid)

    def check(self, leaders: set[int]) -> dict[int, int | None]:
        """Kill the orphans no running attempt may own; reap those that exited; forget
        ended attempts nothing is left of. The orphans left alive, each with the attempt
        it belongs to when that is known."""
        running = {n for n, a in self._attempts.items() if a.ended is None}
        self._walk(running)
        alive: dict[int, int | None] = {}
        owners_alive: set[int] = set()
        for pid in our_children() - leaders:
            if _reaped(pid):
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

    def close(self) -> None:
        """Kill every descendant still alive and reap it; stop being the subreaper."""
        if self._cgroups is not None:
            self._cgroups.end_all()
        deadline = time.monotonic() + CLOSE_WAIT
        while (orphans := our_children()) and time.monotonic() < deadline:
            for pid in orphans:
                if not _reaped(pid):
                    kill_tree(pid)
            time.sleep(0.01)
        if self._cgroups is not None:
            self._cgroups.close()
        self._libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

    def _cgroups_left(self, cgroup: Path) -> bool:
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


class _Cgroups:
    """This run's cgroup v2 directory, below our own cgroup, with a cgroup per running
    attempt in it. One emptied after its attempt is used again: making and removing a
    cgroup costs about as much as the moves into and out of it, on every job."""

    def __init__(self, home: Path, run: Path) -> None:
        self._home = home
        self._run = run
        self._me = str(os.getpid()).encode()
        #: The cgroups of running attempts, with the attempt each holds.
        self._holding: dict[Path, int] = {}
        #: Killed with their attempt's end; free again once the kernel has emptied them.
        self._emptying: list[Path] = []
        self._free: list[Path] = []
        self._made = 0

    @classmethod
    def make(cls) -> _Cgroups | None:
        """Our run's cgroup directory, or None where the v2 hierarchy is not ours to write
        (no v2 mount, a cgroup owned by root or by systemd, a kernel before cgroup.kill)."""
        home = own_v2_cgroup()
        if home is None:
            return None
        _remove_stale(home)
        run = home / f"{RUN_PREFIX}{os.getpid()}"
        try:
            run.mkdir()
        except OSError:
            return None
        made = cls(home, run)
        try:
            probe = made._new()
            if not (probe / "cgroup.kill").exists():
                raise OSError(errno.ENOTSUP, "no cgroup.kill")
            made._move_self(probe)
            made._move_self(home)
        except OSError:
            with contextlib.suppress(OSError):
                made._move_self(home)
            made.close()
            return None
        made._free.append(probe)
        return made

    def enter(self, attempt: int) -> Path | None:
        """Move this process into a cgroup for the attempt; None if that fails (the
        attempt then relies on the process tree)."""
        try:
            cgroup = self._reusable() or self._new()
            self._move_self(cgroup)
        except OSError:
            return None
        self._holding[cgroup] = attempt
        return cgroup

    def leave(self, cgroup: Path) -> bool:
        """Move this process back home; False if it could not leave (then the cgroup is
        not the attempt's alone: it is never killed, nor used again)."""
        try:
            self._move_self(self._home)
        except OSError:
            del self._holding[cgroup]
            return False
        return True

    def end(self, cgroup: Path) -> None:
        """The attempt in `cgroup` is over: kill whatever is left in it."""
        if self._holding.pop(cgroup, None) is None:
            return
        with contextlib.suppress(OSError):
            (cgroup / "cgroup.kill").write_bytes(b"1")
        self._emptying.append(cgroup)

    def attempt_of(self, pid: int) -> int | None:
        """The running attempt whose cgroup holds `pid`, if one of ours does."""
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return None
        line = next((m for m in text.splitlines() if m.startswith("0::")), "")
        return self._holding.get(Path(self._home, *Path(line[3:]).parts[-2:]))

    def end_all(self) -> None:
        for cgroup in list(self._holding):
            self.end(cgroup)

    def close(self) -> None:
        """Kill what is left in every cgroup of ours, and remove them all once empty."""
        self.end_all()
        deadline = time.monotonic() + CLOSE_WAIT
        while self._emptying and time.monotonic() < deadline:
            self._collect_emptied()
            if self._emptying:
                time.sleep(0.01)
        for cgroup in self._free:
            with contextlib.suppress(OSError):
                cgroup.rmdir()
        with contextlib.suppress(OSError):
            self._run.rmdir()

    def _reusable(self) -> Path | None:
        """A free cgroup, if one is or the kernel has emptied one since."""
        self._collect_emptied()
        return self._free.pop() if self._free else None

    def _collect_emptied(self) -> None:
        for cgroup in list(self._emptying):
            if not _populated(cgroup):
                self._emptying.remove(cgroup)
                self._free.append(cgroup)

    def _new(self) -> Path:
        self._made += 1
        cgroup = self._run / f"{SLOT_PREFIX}{self._made}"
        cgroup.mkdir()
        return cgroup

    def _move_self(self, cgroup: Path) -> None:
        fd = os.open(cgroup / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, self._me)
        finally:
            os.close(fd)


#: Names of our cgroups: a run's directory, `train-orch.<pid>`, and the attempts' in it.
RUN_PREFIX = "train-orch."
SLOT_PREFIX = "slot-"


def _populated(cgroup: Path) -> bool:
    """Whether a process is left in the cgroup (`populated 1` in cgroup.events)."""
    try:
        return b"populated 1" in (cgroup / "cgroup.events").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True


def own_v2_cgroup() -> Path | None:
    """This process's cgroup in the v2 hierarchy, as a directory; None without one."""
    mount = v2_mount()
    try:
        memberships = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    path = next((m[3:] for m in memberships.splitlines() if m.startswith("0::")), None)
    if mount is None or path is None or not path.startswith("/"):
        return None
    return Path(mount, path.lstrip("/"))


def v2_mount() -> Path | None:
    """Where the cgroup v2 hierarchy (as our cgroup namespace sees it) is mounted."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    for line in mounts.splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        if after.split()[:1] == ["cgroup2"] and len(fields) > 4 and fields[3] == "/":
            return Path(_unescape(fields[4]))
    return None


def kill_cgroup(path: str) -> None:
    """Kill everything in the cgroup `path` and remove it (the watchdog, after our death)."""
    cgroup = Path(path)
    if not (cgroup.name.startswith(SLOT_PREFIX) and cgroup.parent.name.startswith(RUN_PREFIX)):
        return  # only ever a cgroup we made
    with contextlib.suppress(OSError):
        (cgroup / "cgroup.kill").write_bytes(b"1")
    deadline = time.monotonic() + CLOSE_WAIT
    while time.monotonic() < deadline:
        try:
            cgroup.rmdir()
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.01)
            continue
        break
    with contextlib.suppress(OSError):
        cgroup.parent.rmdir()  # the run's own, once its last attempt is gone


def _remove_stale(home: Path) -> None:
    """Remove the empty cgroups of orchestrators that died (SIGKILL) with their watchdog.

    Empty ones only: what still runs in one is a killed run's attempt, which `--resume`
    stops with its grace (incremental.stop_leftovers), not us at once without it."""
    with contextlib.suppress(OSError):
        for run in home.glob(f"{RUN_PREFIX}*"):
            owner = run.name.removeprefix(RUN_PREFIX)
            if owner.isdigit() and not _alive(int(owner)):
                for attempt in run.glob(f"{SLOT_PREFIX}*"):
                    with contextlib.suppress(OSError):
                        attempt.rmdir()
                with contextlib.suppress(OSError):
                    run.rmdir()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in octal (\\040 ...)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _now_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS)


# ------------------------------------------------------------- who a pid is (Linux)
def our_children() -> set[int]:
    """Our live and zombie children (Linux /proc): those this thread started, and orphans,
    which the kernel gives to the main thread; not our helpers (the watchdog)."""
    pids: set[int] = set()
    for task in {os.getpid(), threading.get_native_id()}:
        pids |= _task_children(os.getpid(), task)
    return pids - HELPERS


def children_of(pid: int) -> set[int]:
    """The children of every thread of `pid` (a trainer forks from worker threads too)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found |= _task_children(pid, int(task.name))
    return found


def _task_children(pid: int, task: int) -> set[int]:
    with contextlib.suppress(OSError):
        fd = os.open(f"/proc/{pid}/task/{task}/children", os.O_RDONLY | os.O_CLOEXEC)
        try:  # os calls, not pathlib: this runs once per ended job, pathlib triples its cost
            return {int(child) for child in os.read(fd, 1 << 16).split()}
        finally:
            os.close(fd)
    return set()


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat field 22):
    with the pid, it names one process of this boot, whatever reuses the pid later.
    None without /proc, or once the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":  # a zombie runs nothing
        return None
    return int(fields[19])  # fields[0] is field 3 (the state)


def boot_id() -> str | None:
    """This boot's id: a start time from another boot names nothing now."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _reaped(pid: int) -> bool:
    """Reap the child if it has exited; True if it is gone."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def kill_tree(pid: int) -> None:
    """SIGKILL the orphan and, when it leads one, its group (a daemon's own helpers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
