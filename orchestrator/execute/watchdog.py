"""Jobs do not outlive their orchestrator, even one killed with SIGKILL (issue 16.4).

Jobs run in sessions of their own, so nothing the kernel does when we die reaches them
(and PR_SET_PDEATHSIG cannot be set through posix_spawn, and would reach only a leader).
So a run starts a watchdog: a small process of its own session that reads a pipe from us.
We write `+<pgid> <grace> [<cgroup>]` when a job's group starts and `-<pgid>` when it is
over, a few bytes per job. At a normal end we write `bye` and it exits. If the pipe
reaches end-of-file without `bye`, we died: it SIGTERMs every group still listed, waits
each one's grace, SIGKILLs what is left, then kills each listed attempt's cgroup, and
exits. We leave that way too when we end with a job still running (an exception on its
way out, a Ray worker told to stop with SIGTERM moments before its SIGKILL): `bye` then
would leave the job running unwatched.

A descendant that left its job's group (a `setsid` daemon) is in the attempt's cgroup
where there is one (see descendants.py), so it dies too. Without cgroups, the orphan
checks tell us of the groups of such daemons as they find them (`+<pgid> <grace>`); one
started less than a check's interval before the orchestrator was killed is left,
re-parented to init. A watchdog killed with SIGKILL as well (a whole cgroup killed at
once) stops nothing, but then the jobs were killed with it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.execute import groups, signals, spawn
from orchestrator.execute.cgroups import kill_cgroup

#: How long a normal end waits for the watchdog to read `bye` and exit.
EXIT_WAIT = 5.0


class Watchdog:
    """The run's end of the pipe; also remembers each job's latest pid for the journal."""

    def __init__(self, helper: spawn.Helper) -> None:
        self._helper = helper
        self._launched: dict[str, int] = {}
        self._keys: dict[int, str] = {}
        self._broken = False

    def started(self, key: str, pgid: int, grace: float, cgroup: str | None) -> None:
        self._launched[key] = pgid
        self._keys[pgid] = key
        self._send(f"+{pgid} {grace!r} {cgroup}\n" if cgroup else f"+{pgid} {grace!r}\n")

    def adopted(self, pgid: int, grace: float) -> None:
        """A group of orphans (a daemon's, after setsid), found by the orphan checks."""
        self._send(f"+{pgid} {grace!r}\n")

    def ended(self, pgid: int) -> None:
        self._launched.pop(self._keys.pop(pgid, ""), None)
        self._send(f"-{pgid}\n")

    def pid_of(self, key: str) -> int | None:
        """The pid (= group id) of the attempt running as `key`, if one is."""
        return self._launched.get(key)

    def close(self) -> None:
        """The run is over: the watchdog has nothing to do and exits. If a job is still
        running, the watchdog stops it as if we had died. We do not wait for that: the
        jobs' leaders are our children, and while we wait nobody reaps them, so they
        would look alive to it for all their grace."""
        if self._keys and not self._broken:
            self._helper.hand_over()
            return
        self._send("bye\n")
        self._helper.finish(EXIT_WAIT)

    def _send(self, line: str) -> None:
        if self._broken:
            return
        try:
            os.write(self._helper.fd, line.encode())  # under PIPE_BUF: all or nothing
        except OSError as exc:  # it died, or stopped reading: say so once, run on
            self._broken = True
            print(
                f"warning: watchdog (pid {self._helper.pid}) lost: {exc.strerror or exc}; "
                "jobs would outlive a killed orchestrator",
                file=sys.stderr,
            )


@contextlib.contextmanager
def watching() -> Iterator[Watchdog | None]:
    """A watchdog for the jobs this process starts in the block; None if none can start."""
    try:
        helper = spawn.Helper(_argv())
    except OSError as exc:
        print(
            f"warning: no watchdog ({exc.strerror}): jobs would outlive a killed orchestrator",
            file=sys.stderr,
        )
        yield None
        return
    dog = Watchdog(helper)
    try:
        with groups.groups_told_to(dog):
            yield dog
    finally:
        dog.close()


def _argv() -> list[str]:
    """`python -I` (no cwd, PYTHONPATH or user site: a project's `signal.py` cannot stand
    in for the stdlib's), with this package found where it is."""
    here = str(Path(__file__).resolve().parent.parent.parent)
    code = f"import sys; sys.path.insert(0, {here!r}); from {__name__} import main; main()"
    return [sys.executable, "-I", "-c", code]


# ----------------------------------------------------------------- the watchdog process
def main() -> None:
    """Follow the groups the orchestrator lists; stop them if it dies without `bye`."""
    signals.ignore_stop_signals()
    groups: dict[int, Listed] = {}
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line == "bye":
            return
        follow(groups, line)
    if groups:
        print(
            f"watchdog: the orchestrator is gone; stopping {len(groups)} job group(s): "
            + " ".join(map(str, groups)),
            file=sys.stderr,
            flush=True,
        )
        signals.stop_groups({pgid: listed.grace for pgid, listed in groups.items()})
        for listed in groups.values():
            if listed.cgroup:
                kill_cgroup(listed.cgroup)


@dataclass(frozen=True)
class Listed:
    """A group the orchestrator listed: its grace, and its attempt's cgroup if any."""

    grace: float
    cgroup: str | None = None


def follow(groups: dict[int, Listed], line: str) -> Mapping[int, Listed]:
    """Apply one line (`+pgid grace [cgroup]`, `-pgid`) to the live groups; ignore
    anything else."""
    with contextlib.suppress(ValueError):
        if line.startswith("+"):
            pgid, grace, *cgroup = line[1:].split(" ", 2)
            groups[int(pgid)] = Listed(float(grace), cgroup[0] if cgroup else None)
        elif line.startswith("-"):
            groups.pop(int(line[1:]), None)
    return groups
