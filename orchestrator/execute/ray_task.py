"""The Ray side of an attempt: the task that supervises it on a worker, and the actor on
the driver's node that its log is shipped to.

The task runs the same Supervisor as the local backend, under a watchdog of its own: Ray
kills a worker (its node lost, its memory monitor, `ray stop`) with SIGKILL, and the job's
process group, a session of its own, would run on, unseen, while the orchestrator retried
it elsewhere. The task tells the sink its node as it starts, so an attempt lost with its
node still says where it ran.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.supervisor import Supervisor
from orchestrator.execute.watchdog import watching

SHIP_EVERY = 0.5
CHUNK = 4 * 1024 * 1024
#: How much of a Ray node id an attempt records (of 56 hex digits): unique in a cluster.
NODE_ID_DIGITS = 12


class LogSink:
    """Appends shipped log chunks on the driver's node, and remembers where each attempt
    was placed (a Ray actor, one per run)."""

    def __init__(self) -> None:
        self.placements: dict[int, tuple[str, float]] = {}

    def append(self, path: str, data: bytes) -> None:
        with Path(path).open("ab") as log:
            log.write(data)

    def close(self, path: str, footer: str) -> None:
        """End the log with `footer`, on a line of its own (an attempt lost mid-line)."""
        with Path(path).open("ab+") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - 1))
            ends_a_line = not size or log.read(1) == b"\n"
            log.write(("" if ends_a_line else "\n").encode() + footer.encode() + b"\n")

    def placed(self, token: int, node: str, at: float) -> None:
        self.placements[token] = (node, at)

    def placement(self, token: int) -> tuple[str, float] | None:
        """The node the attempt `token` started on, and when; None while it waits."""
        return self.placements.get(token)


def run_attempt(request: dict[str, Any]) -> dict[str, Any]:
    """The Ray task: supervise one attempt on this worker, shipping its log as it grows."""
    import ray

    node = ray.get_runtime_context().get_node_id()[:NODE_ID_DIGITS]
    request["sink"].placed.remote(request["token"], node, time.time())
    fd, local_log = tempfile.mkstemp(prefix="train-orch-", suffix=".log")
    os.close(fd)
    try:
        with watching():
            outcome = _supervise(request, local_log)
    finally:
        Path(local_log).unlink(missing_ok=True)
    result = dataclasses.asdict(outcome)
    result["node"] = node
    if request["ship_output_dir"]:
        result["outputs"] = _pack(Path(request["cwd"], request["ship_output_dir"]))
    return result


def _supervise(request: dict[str, Any], local_log: str) -> ProcessEnd:
    """Run the attempt to its end, shipping its log every half second; `ray.cancel`
    (a KeyboardInterrupt here) first stops it with grace, then kills it."""
    supervisor = Supervisor()
    done: dict[str, ProcessEnd] = {}
    finished = threading.Event()

    def attempt() -> None:
        try:
            supervisor.start(
                request["key"],
                request["argv"],
                cwd=request["cwd"],
                env=request["env"],
                log_path=local_log,
                header=request["header"],
                timeout=request["timeout"],
                grace=request["grace"],
                memory_limit=request["memory_limit"],
            )
            done["outcome"] = supervisor.wait_for(request["key"])
        finally:
            finished.set()

    threading.Thread(target=attempt, daemon=True).start()
    shipper = _Shipper(local_log, request["sink"], request["log_path"])
    interrupts = 0
    # An Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread
    # looking finished while it still runs (seen here on CPython 3.11).
    try:
        while not finished.is_set():
            try:
                finished.wait(SHIP_EVERY)
                shipper.ship()
            except KeyboardInterrupt:
                interrupts += 1
                (supervisor.cancel_all if interrupts == 1 else supervisor.kill_all)()
        shipper.ship(final=True)
    finally:
        supervisor.close()  # Ray reuses workers: its pipe must not outlive the attempt
    return done["outcome"]


class _Shipper:
    def __init__(self, local_log: str, sink: Any, target: str) -> None:
        self.local_log = local_log
        self.sink = sink
        self.target = target
        self.offset = 0
        self.last: Any = None

    def ship(self, *, final: bool = False) -> None:
        with Path(self.local_log).open("rb") as log:
            log.seek(self.offset)
            while chunk := log.read(CHUNK):
                self.offset += len(chunk)
                # One caller's calls to an actor run in order, so chunks arrive in order.
                self.last = self.sink.append.remote(self.target, chunk)
        if final and self.last is not None:
            import ray

            ray.get(self.last)  # every chunk is on the driver before the attempt reports


def _pack(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        if directory.is_dir():
            archive.add(directory, arcname=".")
    return buffer.getvalue()
