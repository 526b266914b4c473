"""The supervisor's side of orphan tracking: each leader born in its attempt's cgroup, each
attempt's leftovers killed as it ends, and when to look for orphans (see descendants.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from orchestrator.execute.descendants import (
    ORPHAN_CHECK_AFTER_END,
    ORPHAN_CHECK_EVERY,
    Descendants,
)
from orchestrator.execute.spawn import Spawned, spawn

#: The jobs' leaders not reaped yet: children of ours that are not orphans.
Leaders = Callable[[], set[int]]


class OrphanWatch:
    def __init__(self, descendants: Descendants) -> None:
        self._descendants = descendants
        #: When to look for orphans next (monotonic): ORPHAN_CHECK_AFTER_END after a job
        #: ends (one look for all the jobs that end meanwhile, off the path to the next
        #: start), then every ORPHAN_CHECK_EVERY while jobs run, to catch a daemon
        #: orphaned a moment after its job and to reap orphans that exit.
        self.next_look: float | None = None

    @classmethod
    def adopt(cls, tag_var: str) -> OrphanWatch | None:
        """Become the subreaper of our descendants; None where Linux does not let us.

        `tag_var`: the environment variable that names a child's job.
        """
        descendants = Descendants.adopt(tag_var)
        return cls(descendants) if descendants is not None else None

    def spawn(
        self,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        log: int,
        leaders: Leaders,
    ) -> tuple[Spawned, int]:
        """Start an attempt's leader, in its attempt's cgroup where there is one; return it
        with the attempt's number."""
        attempt = None
        try:
            with self._descendants.spawning(env.get(self._descendants.tag_var)) as attempt:
                spawned = spawn(argv, cwd, env, log)
        except BaseException:
            # Ended only once out of the block: ending kills what is in the attempt's
            # cgroup, and inside the block that is this process.
            if attempt is not None:
                self._descendants.ended(attempt, leaders())
            raise
        self._descendants.started(attempt, spawned.pid)
        return spawned, attempt

    def cgroup_of(self, attempt: int) -> str | None:
        return self._descendants.cgroup_of(attempt)

    def running(self, now: float) -> None:
        """An attempt runs: look for orphans every ORPHAN_CHECK_EVERY from now on."""
        if self.next_look is None:
            self.next_look = now + ORPHAN_CHECK_EVERY

    def ended(self, attempt: int, leaders: Leaders) -> None:
        """The attempt is over: kill what is left of it now."""
        with contextlib.suppress(OSError):  # a cleanup: it must never cost an outcome
            self._descendants.ended(attempt, leaders())

    def look_soon(self, now: float) -> None:
        """Attempts ended: look for what they left behind within ORPHAN_CHECK_AFTER_END."""
        soon = now + ORPHAN_CHECK_AFTER_END
        if self.next_look is None or self.next_look > soon:
            self.next_look = soon

    def look(
        self,
        now: float,
        leaders: set[int],
        graces: Mapping[int | None, float],
        groups: set[int],
    ) -> None:
        """Kill the orphans of ended attempts, then plan the next look (none once no job
        runs). `graces`: each running attempt's; `groups`: the running attempts' groups."""
        with contextlib.suppress(OSError):  # a cleanup: it must never cost an outcome
            self._descendants.look(leaders, graces, groups)
        self.next_look = now + ORPHAN_CHECK_EVERY if groups else None

    def reap_exited(self, leaders: Leaders) -> None:
        """Reap the orphans that exited (each stays in its group as a zombie until then)."""
        with contextlib.suppress(OSError):  # without /proc the group just looks busy
            self._descendants.reap_exited(leaders())

    def close(self) -> None:
        """Kill whatever descendant of a job is still around; stop being the subreaper."""
        self._descendants.close()
