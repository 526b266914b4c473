"""Start, watch and stop job processes. The only module that touches subprocess and signals.

Each job runs in a new session, so its process group holds it and everything it spawns;
stopping a job signals the whole group (SIGTERM, a grace period, then SIGKILL), and a job
that exits normally still has any leftover group members killed, so nothing outlives it.
The child's stdout and stderr go straight into its log file: no pipe for us to drain, so a
child that writes gigabytes or invalid UTF-8 can never block the orchestrator.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

#: Exit status a shell reports for a command it cannot start; we use it the same way.
CANNOT_START = 127


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    exit_code: int | None
    signal: int | None
    started_at: float
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    node: str | None = None
    error: str | None = None


class _Running:
    """One live child and the state its stoppers share."""

    def __init__(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        self.proc = proc
        self.grace = grace
        self.exited = threading.Event()
        self.lock = threading.Lock()
        self.stopping = False
        self.timed_out = False
        self.cancelled = False


class Supervisor:
    """Runs children and can stop all of them at once (cancellation, fail-fast)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._by_key: dict[str, _Running] = {}
        #: Set once the run is being stopped: a child that was still being spawned when
        #: cancel_all() looked is stopped as soon as it registers, instead of running on.
        self._stopping: str | None = None

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        log_path: str,
        header: str,
        timeout: float | None = None,
        grace: float = 10.0,
        key: str = "",
        fresh_log: bool = False,
    ) -> ProcessOutcome:
        """Run one attempt to completion, appending its output to `log_path`.

        `fresh_log` empties the log first (a job's first attempt), in the same open call.
        """
        # One descriptor for the whole attempt: header, the child's output, then the footer.
        # O_APPEND keeps our lines after whatever the child wrote through its copy.
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        log = os.open(log_path, flags | (os.O_TRUNC if fresh_log else 0), 0o644)
        try:
            os.write(log, header.encode("utf-8", "replace") + b"\n")
            started = time.time()
            try:
                proc = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env={**os.environ, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
                reason = getattr(exc, "strerror", None) or str(exc)
                os.write(log, f"=== cannot start {argv[0]}: {reason}\n".encode())
                return ProcessOutcome(CANNOT_START, None, started, time.time() - started)
            outcome = self._watch(proc, grace=grace, timeout=timeout, key=key, started=started)
            _append_footer(log, outcome)
        finally:
            os.close(log)
        return outcome

    def _watch(
        self,
        proc: subprocess.Popen[bytes],
        *,
        grace: float,
        timeout: float | None,
        key: str,
        started: float,
    ) -> ProcessOutcome:
        """Wait for the child (no polling), enforcing the timeout; clean up its group."""
        running = _Running(proc, grace)
        with self._lock:
            self._running[proc.pid] = running
            self._by_key[key] = running
            late = self._stopping
        if late == "kill":
            running.cancelled = True
            _signal_group(proc.pid, signal.SIGKILL)
        elif late == "cancel":
            running.cancelled = True
            threading.Thread(target=self._stop, args=(running,), daemon=True).start()
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._time_out, (running,))
            timer.daemon = True
            timer.start()
        try:
            _wait_without_reaping(proc.pid)
            running.exited.set()
            # The leader is a zombie, so its pid (= the group id) cannot be reused yet:
            # killing the group now reaches leftovers and nothing else.
            _signal_group(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._running.pop(proc.pid, None)
                self._by_key.pop(key, None)
        duration = time.time() - started
        exit_code, sig = (None, -returncode) if returncode < 0 else (returncode, None)
        return ProcessOutcome(
            exit_code, sig, started, duration, running.timed_out, running.cancelled
        )

    def _time_out(self, running: _Running) -> None:
        with running.lock:
            if running.cancelled:
                return
            running.timed_out = True
        self._stop(running)

    def _stop(self, running: _Running) -> None:
        """SIGTERM the group; SIGKILL it if the leader has not exited after its grace."""
        with running.lock:
            if running.stopping or running.exited.is_set():
                return
            running.stopping = True
        _signal_group(running.proc.pid, signal.SIGTERM)
        if not running.exited.wait(running.grace):
            _signal_group(running.proc.pid, signal.SIGKILL)

    def stop(self, key: str) -> None:
        """Stop one running child (e.g. a pruned trial) as cancellation would."""
        with self._lock:
            running = self._by_key.get(key)
        if running is not None:
            with running.lock:
                running.cancelled = True
            threading.Thread(target=self._stop, args=(running,), daemon=True).start()

    def cancel_all(self) -> None:
        """Stop every running group at once, each with its own grace, without blocking."""
        with self._lock:
            self._stopping = "cancel"
            running = list(self._running.values())
        for item in running:
            with item.lock:
                if not item.timed_out:
                    item.cancelled = True
            threading.Thread(target=self._stop, args=(item,), daemon=True).start()

    def kill_all(self) -> None:
        """SIGKILL every running group now (a second Ctrl-C)."""
        with self._lock:
            self._stopping = "kill"
            running = list(self._running.values())
        for item in running:
            item.cancelled = True
            _signal_group(item.proc.pid, signal.SIGKILL)


def _append_footer(fd: int, outcome: ProcessOutcome) -> None:
    """Close the attempt in the log, on a line of its own even if the child left none."""
    if outcome.timed_out:
        how = "timed out"
    elif outcome.cancelled:
        how = "cancelled"
    elif outcome.signal is not None:
        how = f"killed by {signal_name(outcome.signal)}"
    else:
        how = f"exit {outcome.exit_code}"
    footer = f"=== {how} after {outcome.duration:.2f}s\n".encode()
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        footer = b"\n" + footer
    os.write(fd, footer)  # the fd is O_APPEND: this lands after everything the child wrote


def _wait_without_reaping(pid: int) -> None:
    """Block until the child exits, leaving it a zombie (WNOWAIT) so its group id stays ours."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        except ChildProcessError:
            return


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.contextmanager
def interrupt_handlers(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `on_signal` for the duration; restore the old handlers.

    Both are treated alike because CI cancels with SIGINT and then SIGTERM, while a shell
    user presses Ctrl-C: either way, the run should stop cleanly and still report.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: on_signal(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_code_for_signal(signum: int) -> int:
    """The shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
