"""One child as the supervisor tracks it: its process, its log, its deadlines, how far its
grace ladder has gone, and the end it comes to."""

from __future__ import annotations

import time

from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.spawn import Spawned
from orchestrator.usage import Usage

#: Seconds between looks at a group that outlives its stopped leader: the first wait,
#: doubled after each look up to the last. A look is a few system calls; a checkpoint
#: that takes a while is not looked at thousands of times, one that is quick ends soon.
DRAIN_CHECK_FIRST = 0.005
DRAIN_CHECK_MAX = 0.1


class Child:
    def __init__(
        self,
        key: str,
        spawned: Spawned,
        log: int,
        started: float,
        grace: float,
        *,
        attempt: int | None,
    ) -> None:
        self.key = key
        #: Its number in `OrphanWatch`, which finds what it leaves behind (Linux).
        self.attempt = attempt
        self.spawned = spawned
        self.log = log
        self.started = started
        self.grace = grace
        #: When the timeout fires (monotonic), then when SIGTERM turns into SIGKILL.
        self.timeout_at: float | None = None
        self.kill_at: float | None = None
        #: When the child was seen to exit (it is a zombie until we reap it), else None.
        self.exited_at: float | None = None
        #: The leader's status (as `Spawned.wait` gives it) once reaped, else None.
        self.returncode: int | None = None
        #: While the group outlives its leader within its grace: when to look next whether
        #: it is empty (monotonic), and how long to wait after that look.
        self.drain_check_at: float | None = None
        self.drain_every = DRAIN_CHECK_FIRST
        #: When the attempt ended, if not when its leader exited: its group emptied or was
        #: killed after the leader's exit.
        self.ended_at: float | None = None
        self.stopping = False
        self.timed_out = False
        self.cancelled = False
        #: Stopped by us for going over its memory limit.
        self.over_memory_limit = False

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group's and session's id."""
        return self.spawned.pid

    def saw_exit(self) -> None:
        if self.exited_at is None:
            self.exited_at = time.time()

    def look_again_later(self, now: float) -> None:
        """Its group is still there: look again after a wait twice as long as the last."""
        self.drain_check_at = now + self.drain_every
        self.drain_every = min(2 * self.drain_every, DRAIN_CHECK_MAX)

    def end(self, usage: Usage | None = None) -> ProcessEnd:
        """How the attempt ended, once its leader is reaped and its group empty or killed;
        `usage`: what it used, if measured."""
        assert self.returncode is not None and self.exited_at is not None
        returncode = self.returncode
        exit_code, sig = (None, -returncode) if returncode < 0 else (returncode, None)
        killed_for_memory = usage is not None and usage.oom_killed and returncode != 0
        return ProcessEnd(
            exit_code,
            sig,
            self.started,
            (self.ended_at or self.exited_at) - self.started,
            self.timed_out,
            self.cancelled,
            usage=usage,
            out_of_memory=self.over_memory_limit or killed_for_memory,
        )
