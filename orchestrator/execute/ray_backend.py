"""Run each attempt as a Ray task, on this machine's Ray instance or on a cluster.

Inside the task the same Supervisor runs the job's argv as a child process group (same
timeout, grace ladder, thread caps and log header), so a job behaves the same on both
backends, except that a daemon leaving its job's process group is only caught locally (a
Ray worker is not ours to make a subreaper). The log is written on the worker and shipped
to the driver's `logs/<id>.log` in chunks while the job runs, through a small actor pinned
to the driver's node, so a job whose worker is killed still leaves the log up to its last
half second. Retries stay the orchestrator's: Ray's are off, and a task lost with its
worker or node is a failed attempt marked `node_lost`. Ray is imported only when this
backend is chosen.
"""

from __future__ import annotations

import dataclasses
import io
import os
import queue
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orchestrator
from orchestrator.errors import OrchestratorError
from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.supervisor import Supervisor
from orchestrator.models import PlannedJob
from orchestrator.usage import Usage

INSTALL = 'pip install "training-orchestrator[ray]"'
SHIP_EVERY = 0.5
CHUNK = 4 * 1024 * 1024
NODE_LOST = "node_lost"


def connect(address: str | None, cpus: int | None, *, ship_outputs: bool) -> RayBackend:
    """Join the cluster at `address`, or start a local Ray instance with `cpus` CPUs."""
    try:
        import ray
    except ImportError:
        raise OrchestratorError(
            f"--backend ray needs Ray, which is not installed: {INSTALL}"
        ) from None
    return RayBackend(ray, address, cpus, ship_outputs=ship_outputs)


class RayBackend:
    def __init__(
        self, ray: Any, address: str | None, cpus: int | None, *, ship_outputs: bool
    ) -> None:
        self.ray = ray
        self.ship_outputs = ship_outputs
        package_root = str(Path(orchestrator.__file__).resolve().parent.parent)
        pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        runtime_env = {"env_vars": {"PYTHONPATH": pythonpath}}
        if address:
            ray.init(
                address=address,
                runtime_env=runtime_env,
                log_to_driver=False,
                logging_level="WARNING",
            )
        else:
            ray.init(
                num_cpus=cpus,
                include_dashboard=False,
                runtime_env=runtime_env,
                log_to_driver=False,
                logging_level="WARNING",
            )
        here = ray.get_runtime_context().get_node_id()
        strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(here, soft=False)
        self.sink = ray.remote(num_cpus=0)(LogSink).options(scheduling_strategy=strategy).remote()
        self.task = ray.remote(max_retries=0)(run_attempt)
        self.resources = {
            k: float(v) for k, v in ray.cluster_resources().items() if not k.startswith("node:")
        }
        self.info = {"name": "ray", "address": address or "local", "resources": self.resources}
        self._lock = threading.Lock()
        self._refs: dict[str, Any] = {}
        self._stopping = False
        self._inbox: queue.SimpleQueue[tuple[str, ProcessEnd] | None] = queue.SimpleQueue()

    @property
    def cpus(self) -> int:
        return max(1, int(self.resources.get("CPU", 1)))

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None:
        """Submit the task; a thread waits on it (ray.get) and posts the outcome."""
        threading.Thread(target=self._attempt, args=(job, header, fresh_log), daemon=True).start()

    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]:
        try:
            posted = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self._inbox.empty():
            posted.append(self._inbox.get_nowait())
        return [item for item in posted if item is not None]

    def wake(self) -> None:
        self._inbox.put(None)  # SimpleQueue.put may be called from a signal handler

    def _attempt(self, job: PlannedJob, header: str, fresh_log: bool) -> None:
        """Whatever happens, the loop hears back: an error becomes a failed attempt."""
        started = time.time()
        try:
            outcome = self._run(job, header, fresh_log=fresh_log)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            outcome = ProcessEnd(None, None, started, time.time() - started, error=error)
        self._inbox.put((job.id, outcome))

    def _run(self, job: PlannedJob, header: str, *, fresh_log: bool) -> ProcessEnd:
        if fresh_log:  # shipped chunks are appended to it
            Path(job.log_path).write_bytes(b"")
        request = {
            "argv": list(job.argv),
            "cwd": str(Path(job.cwd).resolve()),
            "env": dict(job.env),
            "header": header,
            "timeout": job.timeout,
            "grace": job.grace,
            "memory_limit": job.memory_limit,
            "key": job.id,
            "log_path": str(Path(job.log_path).resolve()),
            "sink": self.sink,
            "ship_output_dir": job.output_dir if self.ship_outputs else None,
        }
        options: dict[str, Any] = {"num_cpus": job.cpus, "num_gpus": job.gpus}
        if job.resources:
            options["resources"] = dict(job.resources)
        submitted = time.time()
        ref = self.task.options(**options).remote(request)
        with self._lock:
            self._refs[job.id] = ref
            if self._stopping:
                self.ray.cancel(ref)
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:
            return ProcessEnd(None, None, submitted, time.time() - submitted, cancelled=True)
        except (
            self.ray.exceptions.WorkerCrashedError,
            self.ray.exceptions.NodeDiedError,
            self.ray.exceptions.RaySystemError,
            self.ray.exceptions.ObjectLostError,
        ):
            return ProcessEnd(None, None, submitted, time.time() - submitted, error=NODE_LOST)
        finally:
            with self._lock:
                self._refs.pop(job.id, None)
        packed = result.pop("outputs", None)
        if packed is not None:
            _unpack(packed, Path(job.output_dir))
        usage = result.pop("usage", None)  # a dict, as dataclasses.asdict made it
        return ProcessEnd(**result, usage=Usage(**usage) if usage else None)

    def stop(self, key: str) -> None:
        with self._lock:
            ref = self._refs.get(key)
        if ref is not None:
            self.ray.cancel(ref)  # KeyboardInterrupt in the task: it stops its group

    def cancel_all(self) -> None:
        with self._lock:
            self._stopping = True
            refs = list(self._refs.values())
        for ref in refs:
            self.ray.cancel(ref)

    def kill_all(self) -> None:
        """A second interrupt: each task escalates from its grace period to SIGKILL."""
        self.cancel_all()

    def close(self) -> None:
        self.ray.shutdown()


class LogSink:
    """Appends shipped log chunks on the driver's node (a Ray actor, one per run)."""

    def append(self, path: str, data: bytes) -> None:
        with Path(path).open("ab") as log:
            log.write(data)


def run_attempt(request: dict[str, Any]) -> dict[str, Any]:
    """The Ray task: supervise one attempt on this worker, shipping its log as it grows."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    fd, local_log = tempfile.mkstemp(prefix="train-orch-", suffix=".log")
    os.close(fd)
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
            except KeyboardInterrupt:  # ray.cancel: first stop with grace, then kill
                interrupts += 1
                (supervisor.cancel_all if interrupts == 1 else supervisor.kill_all)()
        shipper.ship(final=True)
    finally:
        supervisor.close()  # Ray reuses workers: its pipe must not outlive the attempt
        Path(local_log).unlink(missing_ok=True)
    result = dataclasses.asdict(done["outcome"])
    result["node"] = node[:12]
    if request["ship_output_dir"]:
        result["outputs"] = _pack(Path(request["cwd"], request["ship_output_dir"]))
    return result


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


def _unpack(data: bytes, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(directory, filter="data")  # nothing lands outside the dir
