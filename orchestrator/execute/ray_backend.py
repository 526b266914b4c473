"""Run each attempt as a Ray task, on this machine's Ray instance or on a cluster.

Inside the task the same Supervisor runs the job's argv as a child process group (same
timeout, grace ladder, thread caps and log header), so a job behaves the same on both
backends, except that a daemon leaving its job's process group is only caught locally (a
Ray worker is not ours to make a subreaper). The log is written on the worker and shipped
to the driver's `logs/<id>.log` in chunks while the job runs, through a small actor pinned
to the driver's node, so a job whose worker is killed still leaves the log up to its last
half second (ray_task.py is that side). Retries stay the orchestrator's: Ray's are off,
and a task lost with its worker or node is a failed attempt marked `node_lost`, with the
node it ran on. A job no live node can run fails instead of waiting forever (see
ray_placement.py). Ray is imported only when this backend is chosen.
"""

from __future__ import annotations

import io
import itertools
import os
import queue
import socket
import tarfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orchestrator
from orchestrator.errors import OrchestratorError
from orchestrator.execute import ray_placement
from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.ray_task import LogSink, run_attempt
from orchestrator.models import PlannedJob
from orchestrator.usage import Usage, UsageSoFar

INSTALL = 'pip install "training-orchestrator[ray]"'
NODE_LOST = "node_lost"
#: How long a cluster's address has to accept a connection.
ANSWER_WAIT = 5.0
#: How often an attempt that waits to be placed checks that a live node can still take it.
PLACEMENT_CHECK = 2.0


def connect(address: str | None, cpus: int | None, *, ship_outputs: bool) -> RayBackend:
    """Join the cluster at `address`, or start a local Ray instance with `cpus` CPUs."""
    try:
        import ray
    except ImportError:
        raise OrchestratorError(
            f"--backend ray needs Ray, which is not installed: {INSTALL}"
        ) from None
    if address:
        _check_answers(address)
    try:
        return RayBackend(ray, address, cpus, ship_outputs=ship_outputs)
    except ConnectionError as exc:  # `auto` with no cluster running here, among others
        raise OrchestratorError(f"--ray-address {address}: {exc}") from None


def _check_answers(address: str) -> None:
    """Ray retries an address that nothing answers at for minutes, logging as it goes:
    refuse it at once instead. `auto` is left to Ray, which finds no cluster quickly."""
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not port.isdigit():
        raise OrchestratorError(
            f"--ray-address {address}: expected auto, HOST:PORT or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host.strip("[]") or "localhost", int(port)), ANSWER_WAIT).close()
    except OSError as exc:
        raise OrchestratorError(
            f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc})"
        ) from None


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
                # Not None: that joins whatever cluster runs on this machine (`ray start`,
                # another run's), where --cpus means nothing and its nodes come and go.
                address="local",
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
        self._tokens = itertools.count()
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

    def check(self, jobs: Sequence[PlannedJob]) -> None:
        """Refuse, before anything starts, the jobs Ray would refuse or no live node can
        run (Ray would leave them pending forever): every such job, with the resource."""
        nodes = self._nodes()
        problems = [
            ray_placement.invalid_request(job)
            or ray_placement.unplaceable(job.id, ray_placement.needs(job), nodes)
            for job in jobs
        ]
        if any(problems):
            raise OrchestratorError("\n".join(p for p in problems if p))

    def _nodes(self) -> list[dict[str, float]]:
        """The total resources of each node alive now."""
        return [node["Resources"] for node in self.ray.nodes() if node["Alive"]]

    def _run(self, job: PlannedJob, header: str, *, fresh_log: bool) -> ProcessEnd:
        if fresh_log:  # shipped chunks are appended to it
            Path(job.log_path).write_bytes(b"")
        token = next(self._tokens)
        request = {
            "argv": list(job.argv),
            "cwd": str(Path(job.cwd).resolve()),
            "env": dict(job.env),
            "header": header,
            "timeout": job.timeout,
            "grace": job.grace,
            "memory_limit": job.memory_limit,
            "key": job.id,
            "token": token,
            "log_path": str(Path(job.log_path).resolve()),
            "sink": self.sink,
            "ship_output_dir": job.output_dir if self.ship_outputs else None,
        }
        submitted = time.time()
        ref = self.task.options(**ray_placement.task_options(job)).remote(request)
        with self._lock:
            self._refs[job.id] = ref
            if self._stopping:
                self.ray.cancel(ref)
        try:
            unplaced = self._wait_placed_or_done(job, ref, token)
            if unplaced is not None:
                return ProcessEnd(
                    None, None, submitted, time.time() - submitted, error=unplaced, permanent=True
                )
            result = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:
            return ProcessEnd(None, None, submitted, time.time() - submitted, cancelled=True)
        except (
            self.ray.exceptions.WorkerCrashedError,
            self.ray.exceptions.NodeDiedError,
            self.ray.exceptions.RaySystemError,
            self.ray.exceptions.ObjectLostError,
        ):
            return self._lost(job, token, submitted)
        finally:
            with self._lock:
                self._refs.pop(job.id, None)
        packed = result.pop("outputs", None)
        if packed is not None:
            _unpack(packed, Path(job.output_dir))
        usage = result.pop("usage", None)  # a dict, as dataclasses.asdict made it
        return ProcessEnd(**result, usage=Usage(**usage) if usage else None)

    def _wait_placed_or_done(self, job: PlannedJob, ref: Any, token: int) -> str | None:
        """Wait until the task ends or starts on a node; while it waits, check that a
        live node can still run it. Why none can (the task is cancelled), or None."""
        asked = ray_placement.needs(job)
        while not self.ray.wait([ref], timeout=PLACEMENT_CHECK)[0]:
            if self.ray.get(self.sink.placement.remote(token)) is not None:
                return None
            why = ray_placement.unplaceable(job.id, asked, self._nodes())
            if why is not None:
                self.ray.cancel(ref, force=True)
                return why
        return None

    def _lost(self, job: PlannedJob, token: int, submitted: float) -> ProcessEnd:
        """The attempt died with its worker or node: close its log (whatever was shipped
        stays) and say on which node it ran and since when, as far as the sink heard."""
        placement = self.ray.get(self.sink.placement.remote(token))
        node, started = placement if placement is not None else (None, submitted)
        duration = max(0.0, time.time() - started)
        where = f"on node {node}" if node else "before it reported its node"
        footer = f"=== {NODE_LOST} after {duration:.2f}s: its Ray worker died, {where}"
        self.ray.get(self.sink.close.remote(str(Path(job.log_path).resolve()), footer))
        return ProcessEnd(None, None, started, duration, node=node, error=NODE_LOST)

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

    def usage_so_far(self) -> dict[str, UsageSoFar]:
        """None here: a job's figures are measured on its node and come with its end."""
        return {}


def _unpack(data: bytes, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(directory, filter="data")  # nothing lands outside the dir
