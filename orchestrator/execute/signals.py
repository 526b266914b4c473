"""Signals: stopping process groups with a grace, and routing the ones that stop a run."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping


def ignore_stop_signals() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP: the watchdog outlives what stops the run (a
    terminal's Ctrl-C, systemd's SIGTERM to the whole cgroup) to stop what is left."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def stop_groups(graces: Mapping[int, float], *, poll: float = 0.05) -> None:
    """SIGTERM each group, then SIGKILL each one still there after its own grace.

    Returns once every group is empty or killed. Nothing reports the exit of a process
    that is not our child, so emptiness is looked at every `poll` seconds.
    """
    start = time.monotonic()
    for pgid in graces:
        signal_group(pgid, signal.SIGTERM)
    pending = dict(graces)
    while pending:
        elapsed = time.monotonic() - start
        for pgid, grace in list(pending.items()):
            if group_empty(pgid):
                del pending[pgid]
            elif elapsed >= grace:
                signal_group(pgid, signal.SIGKILL)
                del pending[pgid]
        if pending:
            time.sleep(poll)


def group_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a member we may not signal: not empty
        pass
    return False


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.contextmanager
def interrupt_handlers(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Route SIGINT, SIGTERM and SIGHUP to `on_signal` for the duration; restore the old
    handlers.

    All are treated alike because CI cancels with SIGINT and then SIGTERM, a shell user
    presses Ctrl-C, and a closed terminal or dropped ssh session sends SIGHUP: either way,
    the run should stop its jobs cleanly and still report. Jobs run in sessions of their
    own, so a hang-up reaches only us; left to its default it would kill us and leave them
    running. A SIGHUP ignored when we started (`nohup`) stays ignored: that run was meant
    to outlive its terminal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.getsignal(signal.SIGHUP)
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: on_signal(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Interrupted(BaseException):
    """Ctrl-C outside a run (`interrupts_raise`); a BaseException, as KeyboardInterrupt is,
    so that no `except Exception` takes it for an error of its own."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def interrupts_raise() -> None:
    """Make Ctrl-C raise `Interrupted` rather than KeyboardInterrupt, which click turns
    into "Aborted!" and exit 1; the CLI ends with 130 instead, as a shell would. SIGTERM
    and SIGHUP too: by default they end the process without a word, even mid-planning of
    a large matrix. A run routes them its own way meanwhile (`interrupt_handlers`), and
    puts these back. A signal ignored at start (`nohup`) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, _raise_interrupted)


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def exit_code_for_signal(signum: int) -> int:
    """The shell convention: 128 + signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
    return 128 + signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
