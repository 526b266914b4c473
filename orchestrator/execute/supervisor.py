"""Watch and stop job processes: the supervisor of every attempt's process group.

Each job runs in a new session, so its process group holds it and everything it spawns;
stopping a job signals the whole group (SIGTERM, a grace period, then SIGKILL), and the
grace belongs to the group, not to its leader: a job ends when its group is empty or its
grace is over. A job that exits normally still has any leftover group members killed, so
nothing outlives it.
A descendant that leaves the group (a daemon calls setsid()) is caught on Linux by a
cgroup per attempt, or by the process tree as this process's orphans: see orphan_watch.py.
The child's stdout and stderr go straight into its log file: no pipe for us to drain, so a
child that writes gigabytes or invalid UTF-8 can never block the orchestrator.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence

from orchestrator.execute import groups
from orchestrator.execute.attempt_log import append_footer, open_log
from orchestrator.execute.beneath import SymlinkInTheWay, symlink_reason
from orchestrator.execute.child import Child
from orchestrator.execute.ending import CANNOT_START, FOR_GOOD, ProcessEnd, describe
from orchestrator.execute.exit_watch import ExitWatch
from orchestrator.execute.memory_cgroups import MemorySlot
from orchestrator.execute.metering import Metering
from orchestrator.execute.orphan_watch import OrphanWatch
from orchestrator.execute.signals import signal_group
from orchestrator.execute.spawn import Spawned, default_sigchld, spawn
from orchestrator.usage import Usage, UsageSoFar


class Supervisor:
    """Starts children and watches all of them from one thread, without polling.

    Each child's exit wakes one selector (exit_watch.py); a timeout and the SIGKILL
    after a grace period are deadlines of the same loop (so are the looks at a stopped
    job's group that outlives its leader: see `_drains`). On Linux nothing waits in a thread
    of its own, so there are no hand-offs between threads per job: a start, an exit and the
    next start cost what the system calls cost (without pidfds, a thread per child waits
    for its exit and wakes the loop). Other threads and signal handlers only queue a
    request (stop, cancel, kill) and wake the loop through a pipe; the thread that calls
    `start` and `wait` does everything else.
    """

    def __init__(self, *, orphans_tagged_by: str | None = None) -> None:
        """`orphans_tagged_by`: the environment variable that names a child's job; with it,
        descendants that leave their job's group are found and killed (Linux only)."""
        self._orphans = OrphanWatch.adopt(orphans_tagged_by) if orphans_tagged_by else None
        #: What each attempt uses (Linux): see metering.py.
        self._metering = Metering.for_this_host()
        self._exits = ExitWatch()
        self._children: dict[str, Child] = {}
        self._finished: list[tuple[str, ProcessEnd]] = []
        self._requests: collections.deque[tuple[str, str]] = collections.deque()
        #: Set once the run is being stopped: a child started after that is stopped at once.
        self._stopping: str | None = None
        #: The environment children start from, read once: os.environ decodes every
        #: variable on each read, a cost per job for a value that does not change.
        self._environ = dict(os.environ)
        self._sigchld_was = default_sigchld()

    # ------------------------------------------------------------ the owning thread
    def start(
        self,
        key: str,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        log_path: str,
        header: str,
        timeout: float | None = None,
        grace: float = 10.0,
        fresh_log: bool = False,
        root: str | None = None,
        memory_limit: int | None = None,
    ) -> None:
        """Launch one attempt; its outcome comes out of `wait`, even if it cannot start.

        The child's output is appended to `log_path` after `header`; `fresh_log` empties
        the log first (a job's first attempt). With `root` (the output root), no symlink
        below it on the way to the log is followed (see `open_beneath`). Past
        `memory_limit` bytes, the attempt is stopped as out of memory.
        """
        started = time.time()
        try:
            log = open_log(log_path, root, fresh=fresh_log, header=header)
        except SymlinkInTheWay as exc:
            # Not retried: the symlink is still there for the next attempt.
            error = symlink_reason("log", log_path, exc)
            outcome = ProcessEnd(None, None, started, 0.0, error=error, permanent=True)
            self._finished.append((key, outcome))
            return
        except OSError as exc:
            error = f"cannot open {log_path}: {exc.strerror}"
            self._finished.append((key, ProcessEnd(None, None, started, 0.0, error=error)))
            return
        try:
            with self._memory_slot(memory_limit) as slot:
                spawned, attempt = self._spawn_attempt(argv, cwd, {**self._environ, **env}, log)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
            reason = getattr(exc, "strerror", None) or str(exc)
            with contextlib.suppress(OSError):
                os.write(log, f"=== cannot start {argv[0]}: {reason}\n".encode())
            os.close(log)
            outcome = ProcessEnd(
                CANNOT_START,
                None,
                started,
                time.time() - started,
                error=f"could not start: {argv[0]}: {reason}",
                permanent=not isinstance(exc, OSError) or exc.errno in FOR_GOOD,
            )
            self._finished.append((key, outcome))
            return
        child = Child(key, spawned, log, started, grace, attempt=attempt)
        if timeout is not None:
            child.timeout_at = time.monotonic() + timeout
        try:
            self._exits.watch(child.pid, child.saw_exit)
        except Exception as exc:  # e.g. no thread to spare: the child cannot be watched
            signal_group(spawned.pid, signal.SIGKILL)
            spawned.wait()
            os.close(log)
            error = f"cannot watch {argv[0]}: {exc}"
            self._finished.append((key, ProcessEnd(None, None, started, 0.0, error=error)))
            return
        self._register(child)
        self._begin_metering(child, slot, memory_limit)
        if self._orphans is not None:
            self._orphans.running(time.monotonic())
        if self._stopping == "kill":
            child.cancelled = True
            signal_group(child.pid, signal.SIGKILL)
        elif self._stopping == "cancel":
            child.cancelled = True
            self._begin_stop(child)

    def _spawn_attempt(
        self, argv: Sequence[str], cwd: str, env: Mapping[str, str], log: int
    ) -> tuple[Spawned, int | None]:
        """Start the leader, in its attempt's cgroup where there is one."""
        if self._orphans is None:
            return spawn(argv, cwd, env, log), None
        return self._orphans.spawn(argv, cwd, env, log, self._leaders)

    def _memory_slot(
        self, limit: int | None
    ) -> contextlib.AbstractContextManager[MemorySlot | None]:
        """Where the leader is born for its memory to be counted and limited, if anywhere."""
        if self._metering is None:
            return contextlib.nullcontext()
        return self._metering.spawning(limit)

    def _begin_metering(self, child: Child, slot: MemorySlot | None, limit: int | None) -> None:
        if self._metering is not None:
            cgroup = None
            if self._orphans is not None and child.attempt is not None:
                cgroup = self._orphans.cgroup_of(child.attempt)
            self._metering.begin(child.key, child.pid, cgroup=cgroup, slot=slot, limit=limit)

    def _register(self, child: Child) -> None:
        self._children[child.key] = child
        told = groups.listener()
        if told is not None:
            cgroup = None
            if self._orphans is not None and child.attempt is not None:
                cgroup = self._orphans.cgroup_of(child.attempt)
            told.started(child.key, child.pid, child.grace, cgroup)

    def wait(self, timeout: float | None = None) -> list[tuple[str, ProcessEnd]]:
        """Attempts that ended, keyed as started: at least one, unless `wake` was called or
        `timeout` passed first. Enforces timeouts and grace periods while it waits.

        Exits already seen are collected before any request or deadline is acted on: a
        child that exited just before its timeout, or before a cancel, keeps its own end.
        """
        until = None if timeout is None else time.monotonic() + timeout
        woken = False
        while True:
            woken = self._exits.poll(0.0) or woken
            now = time.monotonic()
            next_look = self._orphans.next_look if self._orphans is not None else None
            if next_look is not None and now >= next_look:
                self._look_for_orphans(now)
            next_sample = self._metering.due() if self._metering is not None else None
            if next_sample is not None and now >= next_sample:
                self._sample(now)
                next_sample = self._metering.due() if self._metering is not None else None
            finished = self._reap()
            self._serve_requests()
            if finished or woken or (until is not None and now >= until):
                return finished
            self._enforce_deadlines(now)
            due = [
                t
                for c in self._children.values()
                for t in (c.timeout_at, c.kill_at, c.drain_check_at)
                if t
            ]
            due += [t for t in (until, next_look, next_sample) if t is not None]
            woken = self._exits.poll(max(0.0, min(due) - now) if due else None)

    def wait_for(self, key: str) -> ProcessEnd:
        """Block until the attempt started as `key` ends (a Ray task runs just one)."""
        while True:
            for done, outcome in self.wait():
                if done == key:
                    return outcome

    def usage_so_far(self) -> dict[str, UsageSoFar]:
        """What each running attempt uses now (see `Metering.so_far`); none unmeasured."""
        return self._metering.so_far() if self._metering is not None else {}

    def close(self) -> None:
        """Release the selector; kill whatever descendant of a job is still around."""
        if self._orphans is not None:
            self._orphans.close()
        if self._metering is not None:
            self._metering.close()
        if self._sigchld_was is not None:
            with contextlib.suppress(ValueError):  # closed from another thread
                signal.signal(signal.SIGCHLD, self._sigchld_was)
        self._exits.close()

    # -------------------------------------------------- any thread, signal handlers
    def wake(self) -> None:
        """Make `wait` return now (signal handlers and other threads call this)."""
        self._exits.wake()

    def stop(self, key: str) -> None:
        """Stop one running child (e.g. a pruned trial) as cancellation would."""
        self._request("stop", key)

    def cancel_all(self) -> None:
        """Stop every running group at once, each with its own grace, without blocking."""
        self._request("cancel")

    def kill_all(self) -> None:
        """SIGKILL every running group now (a second Ctrl-C)."""
        self._request("kill")

    def _request(self, what: str, key: str = "") -> None:
        self._requests.append((what, key))
        self.wake()

    # -------------------------------------------------------------------- internals
    def _serve_requests(self) -> None:
        while self._requests:
            what, key = self._requests.popleft()
            if what == "stop":
                child = self._children.get(key)
                if child is not None:
                    child.cancelled = True
                    self._begin_stop(child)
            elif what == "cancel":
                self._stopping = self._stopping or "cancel"
                for child in self._children.values():
                    child.cancelled = child.cancelled or not child.timed_out
                    self._begin_stop(child)
            else:
                self._stopping = "kill"
                for child in self._children.values():
                    child.cancelled = True
                    self._kill_group(child)

    def _enforce_deadlines(self, now: float) -> None:
        for child in self._children.values():
            if child.timeout_at is not None and now >= child.timeout_at:
                child.timeout_at = None
                if not child.cancelled:
                    child.timed_out = True
                    self._begin_stop(child)
            if child.kill_at is not None and now >= child.kill_at:
                self._kill_group(child)

    def _kill_group(self, child: Child) -> None:
        """SIGKILL the child's group now; its grace, if any, is over."""
        child.kill_at = None
        if child.returncode is None:  # the leader, alive or a zombie, keeps the group id ours
            signal_group(child.pid, signal.SIGKILL)
            return
        # The leader is reaped and the group drains: the attempt ends now, killed or empty.
        child.ended_at = time.time()
        child.drain_check_at = time.monotonic()
        # Once the group is empty its id is free for another group: look before killing.
        if not self._group_gone(child.pid):
            signal_group(child.pid, signal.SIGKILL)

    def _begin_stop(self, child: Child) -> None:
        """SIGTERM the group; SIGKILL it if it is not empty after its grace."""
        if child.stopping or child.exited_at is not None:
            return
        child.stopping = True
        signal_group(child.pid, signal.SIGTERM)
        child.kill_at = time.monotonic() + child.grace

    def _reap(self) -> list[tuple[str, ProcessEnd]]:
        finished, self._finished = self._finished, []
        for child in [c for c in self._children.values() if c.exited_at is not None]:
            if child.kill_at is not None and self._drains(child):
                continue
            if child.returncode is None:
                # The leader is a zombie, so its pid (= the group id) cannot be reused yet:
                # killing the group now reaches leftovers and nothing else.
                signal_group(child.pid, signal.SIGKILL)
                self._reap_leader(child)
            del self._children[child.key]
            if self._orphans is not None and child.attempt is not None:
                self._orphans.ended(child.attempt, self._leaders)
            told = groups.listener()
            if told is not None:  # the group is empty or killed: nothing left to stop
                told.ended(child.pid)
            # Its leader reaped just above, or as its group drained.
            outcome = child.end(self._end_metering(child))
            with contextlib.suppress(OSError):  # a full disk must not lose the outcome
                append_footer(child.log, describe(outcome), outcome.duration)
            os.close(child.log)
            finished.append((child.key, outcome))
        if finished and self._orphans is not None:
            self._orphans.look_soon(time.monotonic())
        return finished

    def _end_metering(self, child: Child) -> Usage | None:
        if self._metering is None or child.exited_at is None:
            return None
        wall = (child.ended_at or child.exited_at) - child.started
        with contextlib.suppress(OSError):  # a figure must never cost an outcome
            return self._metering.end(child.key, child.spawned.rusage, wall)
        return None

    def _sample(self, now: float) -> None:
        """Look at the sampled attempts; stop those over their memory limit, as a timeout
        would stop them (SIGTERM, grace, SIGKILL)."""
        assert self._metering is not None
        for key in self._metering.look(now):
            child = self._children.get(key)
            if child is not None and not child.stopping:
                child.over_memory_limit = True
                self._begin_stop(child)

    def _reap_leader(self, child: Child) -> None:
        child.returncode = child.spawned.wait()
        self._exits.forget(child.pid)

    def _drains(self, child: Child) -> bool:
        """True while a stopping child's group outlives its leader within its grace.

        The grace belongs to the whole group: a wrapper (`bash run.sh`) dies of SIGTERM at
        once, while the trainer it started still saves its checkpoint. So the leader is
        reaped, and the group is looked at, less and less often, until it is empty (the
        attempt ends then) or its grace is over (`_kill_group`). Nothing signals the
        exit of a group member that is not our child, so we look rather than wait.
        """
        now = time.monotonic()
        if child.returncode is None:
            self._reap_leader(child)
            child.drain_check_at = now
        if child.drain_check_at is not None and now < child.drain_check_at:
            return True
        if self._group_gone(child.pid):
            child.kill_at = child.drain_check_at = None
            child.ended_at = time.time()
            return False
        child.look_again_later(now)
        return True

    def _group_gone(self, pgid: int) -> bool:
        """True once no process is left in the group, its zombies included.

        The members the leader's exit orphaned are our children now (we are their
        subreaper), and each stays in the group as a zombie until we reap it, so the
        orphans that exited are reaped first. Not the leaders: their status is their job's.
        """
        if self._orphans is not None:
            self._orphans.reap_exited(self._leaders)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # a member we may not signal: the group is not empty
            pass
        return False

    def _leaders(self) -> set[int]:
        """The jobs' leaders not reaped yet: children of ours that are not orphans."""
        return {c.pid for c in self._children.values() if c.returncode is None}

    def _look_for_orphans(self, now: float) -> None:
        assert self._orphans is not None
        graces = {c.attempt: c.grace for c in self._children.values()}
        running = {c.pid for c in self._children.values()}
        self._orphans.look(now, self._leaders(), graces, running)
