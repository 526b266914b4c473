"""A run's own directory in one cgroup hierarchy, `train-orch.<pid>`, with a numbered
cgroup in it (`slot-N`) per running attempt. The v2 cgroups (cgroups.py) and the v1
memory ones (memory_cgroups.py) keep one each.

A slot emptied after its attempt is used again: making and removing a cgroup costs about
as much as the moves into and out of it, on every job. Its files stay open meanwhile
(`kernel_files.hold`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.execute import kernel_files

#: Names of our cgroups: a run's directory, `train-orch.<pid>`, and the attempts' in it.
RUN_PREFIX = "train-orch."
SLOT_PREFIX = "slot-"
#: How long closing keeps waiting for killed cgroups to empty before it gives up on them.
CLOSE_WAIT = 2.0


class Slots:
    """The run's directory below `home`, and the slots made in it."""

    def __init__(self, home: Path, run: Path, emptied: Callable[[str], bool]) -> None:
        self.run = run
        #: Where this process moves back to after starting an attempt's leader.
        self.home_procs = f"{home}/cgroup.procs"
        self._emptied = emptied
        self._made = 0
        self._free: list[str] = []
        #: Slots whose attempt ended, free again once the kernel has emptied them.
        self._emptying: list[str] = []
        kernel_files.hold(f"{run}/")
        kernel_files.hold(self.home_procs)

    def take(self) -> str:
        """A free slot: one emptied since its attempt ended, else a new one; OSError if
        none can be made."""
        self._collect_emptied()
        if self._free:
            return self._free.pop()
        self._made += 1
        slot = f"{self.run}/{SLOT_PREFIX}{self._made}"
        Path(slot).mkdir()
        return slot

    def put_back(self, slot: str, *, empty: bool = False) -> None:
        """`slot`'s attempt is over: it is free again once nothing is left in it."""
        (self._free if empty else self._emptying).append(slot)

    def close(self) -> None:
        """Remove every slot once the kernel has emptied it (waiting `CLOSE_WAIT` at most),
        then the run's directory."""
        deadline = time.monotonic() + CLOSE_WAIT
        while self._emptying and time.monotonic() < deadline:
            self._collect_emptied()
            if self._emptying:
                time.sleep(0.01)
        kernel_files.release(f"{self.run}/")
        kernel_files.release(self.home_procs)
        for number in range(1, self._made + 1):
            with contextlib.suppress(OSError):
                Path(self.run, f"{SLOT_PREFIX}{number}").rmdir()
        with contextlib.suppress(OSError):
            self.run.rmdir()

    def _collect_emptied(self) -> None:
        for slot in list(self._emptying):
            if self._emptied(slot):
                self._emptying.remove(slot)
                self._free.append(slot)


def new_run_dir(home: Path) -> Path | None:
    """This run's directory below `home` (a v2 cgroup, or a v1 memory one), after removing
    those of dead runs; None where we may not make it."""
    _remove_stale(home)
    run = home / f"{RUN_PREFIX}{os.getpid()}"
    try:
        run.mkdir()
    except OSError:
        return None
    return run


def _remove_stale(home: Path) -> None:
    """Remove the empty cgroups of orchestrators that died (SIGKILL) with their watchdog.

    Empty ones only: what still runs in one is a killed run's attempt, which `--resume`
    stops with its grace (execute.leftovers.stop_leftovers), not us at once without it."""
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
