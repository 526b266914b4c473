"""A cgroup v2 per job attempt: the kernel's record of everything the attempt started.

Made below this process's own cgroup when the v2 hierarchy lets us write there (no
controller is needed: `cgroup.kill` and `cgroup.events` are core files, so a hybrid
host's controller-less v2 mount serves). See descendants.py for how they are used.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path

from orchestrator.execute import kernel_files
from orchestrator.execute.cgroup_slots import (
    CLOSE_WAIT,
    RUN_PREFIX,
    SLOT_PREFIX,
    Slots,
    new_run_dir,
)


class JobCgroups:
    """This run's cgroup v2 directory, below our own cgroup, with a cgroup per running
    attempt in it (see cgroup_slots.py)."""

    def __init__(self, home: Path, run: Path) -> None:
        self._home = str(home)
        self._slots = Slots(home, run, lambda slot: not _populated(slot))
        self._me = str(os.getpid()).encode()
        #: The cgroups of running attempts, with the attempt each holds.
        self._holding: dict[str, int] = {}
        #: The cgroup this process is in while it starts an attempt's leader, else None.
        self._inside: str | None = None

    @classmethod
    def make(cls) -> JobCgroups | None:
        """Our run's cgroup directory, or None where the v2 hierarchy is not ours to write
        (no v2 mount, a cgroup owned by root or by systemd, a kernel before cgroup.kill)."""
        home = own_v2_cgroup()
        if home is None:
            return None
        run = new_run_dir(home)
        if run is None:
            return None
        made = cls(home, run)
        try:
            probe = made._slots.take()
            if not Path(probe, "cgroup.kill").exists():
                raise OSError(errno.ENOTSUP, "no cgroup.kill")
            made._move_self(probe)
            made._move_self(made._home)
        except OSError:
            with contextlib.suppress(OSError):
                made._move_self(made._home)
            made.close()
            return None
        made._slots.put_back(probe, empty=True)
        return made

    def enter(self, attempt: int) -> str | None:
        """Move this process into a cgroup for the attempt; None if that fails (the
        attempt then relies on the process tree)."""
        try:
            cgroup = self._slots.take()
            self._move_self(cgroup)
        except OSError:
            return None
        self._holding[cgroup] = attempt
        self._inside = cgroup
        return cgroup

    def leave(self, cgroup: str) -> bool:
        """Move this process back home; False if it could not leave (then the cgroup is
        not the attempt's alone: it is never killed, nor used again)."""
        try:
            self._move_self(self._home)
        except OSError:
            del self._holding[cgroup]
            return False
        self._inside = None
        return True

    def end(self, cgroup: str) -> None:
        """The attempt in `cgroup` is over: kill whatever is left in it (never the cgroup
        this process is in, between `enter` and `leave`: that would kill us)."""
        if cgroup == self._inside or self._holding.pop(cgroup, None) is None:
            return
        with contextlib.suppress(OSError):
            kernel_files.write(f"{cgroup}/cgroup.kill", b"1")
        self._slots.put_back(cgroup)

    def attempt_of(self, pid: int) -> int | None:
        """The running attempt whose cgroup holds `pid`, if one of ours does."""
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return None
        line = next((m for m in text.splitlines() if m.startswith("0::")), "")
        run, _, slot = line[3:].rpartition("/")
        return self._holding.get(f"{self._home}/{run.rpartition('/')[2]}/{slot}")

    def end_all(self) -> None:
        for cgroup in list(self._holding):
            self.end(cgroup)

    def close(self) -> None:
        """Kill what is left in every cgroup of ours, and remove them all once empty."""
        self.end_all()
        self._slots.close()

    def _move_self(self, cgroup: str) -> None:
        kernel_files.write(f"{cgroup}/cgroup.procs", self._me)


def _populated(cgroup: str) -> bool:
    """Whether a process is left in the cgroup (`populated 1` in cgroup.events)."""
    try:
        return b"populated 1" in kernel_files.read(f"{cgroup}/cgroup.events")
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


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in octal (\\040 ...)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
