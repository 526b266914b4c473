"""Who a process is, and whose: what Linux's /proc says about our children and theirs."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

from orchestrator.execute import kernel_files

#: Pids of our children that are neither jobs nor their orphans (the watchdog).
HELPERS: set[int] = set()


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
        return {
            int(child) for child in kernel_files.read(f"/proc/{pid}/task/{task}/children").split()
        }
    return set()


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat field 22):
    with the pid, it names one process of this boot, whatever reuses the pid later.
    None without /proc, or once the process is gone."""
    try:
        fields = kernel_files.read(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
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


def reaped(pid: int) -> bool:
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
