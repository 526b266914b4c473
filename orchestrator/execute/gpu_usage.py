"""The GPU memory of each running attempt, from `nvidia-smi`, by the pids it lists.

`nvidia-smi --query-compute-apps` lists every process holding GPU memory, with how much;
an attempt's share is the sum over its own processes. Asking costs a process start, and
a driver that hangs could make it wait, so a thread of its own asks, every EVERY seconds
and only while attempts are watched, and never the supervisor's loop. No `nvidia-smi` on
the PATH at the start: no thread, and no GPU figures.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable

QUERY = ("--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits")
MIB = 1 << 20


def parse_compute_apps(text: str) -> dict[int, int]:
    """{pid: bytes of GPU memory} from `pid, used_memory` lines in MiB (a process on two
    GPUs is listed twice: its lines add up)."""
    found: dict[int, int] = {}
    for line in text.splitlines():
        pid, _, used = (field.strip() for field in line.partition(","))
        if pid.isdigit() and used.isdigit():
            found[int(pid)] = found.get(int(pid), 0) + int(used) * MIB
    return found


def query_compute_apps(program: str) -> dict[int, int]:
    """What `nvidia-smi` says now; nothing when it fails or takes too long."""
    try:
        done = subprocess.run(
            [program, *QUERY], capture_output=True, text=True, timeout=QUERY_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_compute_apps(done.stdout) if done.returncode == 0 else {}


#: Seconds between two questions to nvidia-smi, and the longest one may take.
EVERY = 1.0
QUERY_TIMEOUT = 10.0


class GpuWatcher:
    """The peak GPU memory of each watched attempt, asked for from a thread of its own."""

    def __init__(self, program: str) -> None:
        self._program = program
        self._lock = threading.Lock()
        self._watched: dict[str, Callable[[], Iterable[int]]] = {}
        self._peaks: dict[str, int] = {}
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="gpu-usage", daemon=True)
        self._thread.start()

    @classmethod
    def make(cls) -> GpuWatcher | None:
        program = shutil.which("nvidia-smi")
        return cls(program) if program else None

    def watch(self, key: str, members: Callable[[], Iterable[int]]) -> None:
        """Watch the attempt `key`, whose processes `members()` lists."""
        with self._lock:
            self._watched[key] = members
            self._wake.notify()

    def forget(self, key: str) -> int | None:
        """Stop watching `key`: the most GPU memory its processes held together, if any."""
        with self._lock:
            self._watched.pop(key, None)
            return self._peaks.pop(key, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(QUERY_TIMEOUT + EVERY)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._watched and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                watched = dict(self._watched)
            held = query_compute_apps(self._program)
            if held:
                self._note(watched, held)
            with self._lock:
                if not self._closed:
                    self._wake.wait(EVERY)

    def _note(self, watched: dict[str, Callable[[], Iterable[int]]], held: dict[int, int]) -> None:
        for key, members in watched.items():
            used = sum(held.get(pid, 0) for pid in members())
            if used:
                with self._lock:
                    if key in self._watched:
                        self._peaks[key] = max(self._peaks.get(key, 0), used)
