"""Learning that a child exited, without reaping it, in one wait that other threads can end.

The supervisor's thread sleeps in one selector: each child's exit makes its pidfd readable,
and a pipe lets signal handlers and other threads wake it. The child is left a zombie, so
its pid (its process group's id) stays ours until the supervisor has killed whatever is
left in the group and reaps it. Without pidfds (not Linux >= 5.3) a thread per child waits
for its exit with WNOWAIT and wakes the selector.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import sys
import threading
from collections.abc import Callable

#: Called once a child is seen to have exited (perhaps again while it stays a zombie).
OnExit = Callable[[], None]


class ExitWatch:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._pidfds: dict[int, int] = {}
        self._closed = False

    def watch(self, pid: int, exited: OnExit) -> None:
        """Call `exited` (from `poll`, or from a thread that then wakes it) when `pid` exits.

        Raises when the exit cannot be watched (no thread to spare, say).
        """
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux >= 5.3
            thread = threading.Thread(target=self._wait_in_thread, args=(pid, exited), daemon=True)
            thread.start()
            return
        self._pidfds[pid] = pidfd
        self._selector.register(pidfd, selectors.EVENT_READ, exited)

    def forget(self, pid: int) -> None:
        """Stop watching `pid`, once reaped: an exited process's pidfd stays readable."""
        pidfd = self._pidfds.pop(pid, None)
        if pidfd is not None:
            self._selector.unregister(pidfd)
            os.close(pidfd)

    def poll(self, timeout: float | None) -> bool:
        """Wait up to `timeout` (None: for ever) for an exit or a wake-up; tell the exits.

        True if `wake` was called.
        """
        woken = False
        for selected, _ in self._selector.select(timeout):
            if selected.data is None:
                woken = True
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 4096)
            else:
                selected.data()
        return woken

    def wake(self) -> None:
        """Make `poll` return now (signal handlers and other threads call this)."""
        if self._closed:  # the run is over; a signal now is the caller's to handle
            return
        # A full pipe means a wake-up is pending anyway; a closed one, that we just closed.
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    def close(self) -> None:
        self._closed = True  # before the pipe goes: a late signal must not write to it
        self._selector.close()
        for fd in (self._wake_read, self._wake_write, *self._pidfds.values()):
            os.close(fd)
        self._pidfds.clear()

    def _wait_in_thread(self, pid: int, exited: OnExit) -> None:
        try:
            _wait_without_reaping(pid)
        finally:  # if the wait failed, reaping blocks until the exit: never a hang for good
            exited()
            self.wake()


def _wait_without_reaping(pid: int) -> None:
    """Block until the child exits, leaving it a zombie so its group id stays ours.

    waitid(WNOWAIT); on macOS, where Python has no waitid, a kqueue NOTE_EXIT, which
    reports the exit without reaping either.
    """
    if sys.platform == "darwin":
        queue = select.kqueue()
        note = select.kevent(
            pid,
            select.KQ_FILTER_PROC,
            select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
            select.KQ_NOTE_EXIT,
        )
        try:
            queue.control([note], 1, None)
        except ProcessLookupError:  # it has exited already
            pass
        finally:
            queue.close()
        return
    with contextlib.suppress(ChildProcessError):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
