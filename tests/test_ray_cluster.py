"""The Ray backend on a multi-node cluster simulated on this machine (Ray's own
`ray.cluster_utils.Cluster`): placement by resources, a node lost mid-run, jobs no node
can run, and Ctrl-C. One cluster serves the module; the CLI joins it with --ray-address.

Every node shares this host's address, so a job proves where it ran by its Ray worker's
parent: the raylet of the node that started the worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SHIM, Project, alive
from test_ray import SLEEPER, wait_for

ray = pytest.importorskip("ray", reason="the ray extra is part of .[dev]")
from ray.cluster_utils import Cluster  # noqa: E402 -- only once ray is known to import

MiB = 1 << 20
KILL_CHILDREN = "RAY_kill_child_processes_on_worker_exit"
#: How much of a node id an attempt records.
NODE_ID_DIGITS = 12

# Says where it runs: its own pid and the pid of its Ray worker's parent (a raylet).
PROBE = """
import json, os, pathlib
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
stat = pathlib.Path(f"/proc/{os.getppid()}/stat").read_text()
raylet = int(stat.rsplit(")", 1)[1].split()[1])
(out / "where.json").write_text(json.dumps({"pid": os.getpid(), "raylet": raylet}))
"""

# The first attempt says where it runs and then writes a line every 50 ms until killed,
# outliving its Ray worker unless something stops its process group; a second attempt
# (the marker exists) succeeds at once.
STREAMER = (
    PROBE
    + """
import sys, time
if (out / "first").exists():
    print("second attempt", flush=True)
    sys.exit(0)
(out / "first").write_text("")
for line in range(100_000):
    print("line", line, flush=True)
    time.sleep(0.05)
"""
)


class Nodes:
    """The module's cluster and the nodes the tests address by name."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.address: str = cluster.address
        # The head runs the drivers and their log sinks, no job (no CPU).
        self.big = cluster.add_node(num_cpus=2, resources={"big_node": 1}, memory=4096 * MiB)
        self.small = cluster.add_node(num_cpus=1, resources={"small_node": 1}, memory=512 * MiB)
        cluster.wait_for_nodes()

    def add(self, **resources: float) -> Any:
        node = self.cluster.add_node(num_cpus=1, resources=resources, memory=256 * MiB)
        self.cluster.wait_for_nodes()
        return node


@pytest.fixture(scope="module")
def nodes() -> Iterator[Nodes]:
    # A worker that exits cleanly SIGKILLs its direct children, a job's leader among
    # them, unless a cluster turns that off: ours does, for these tests to show that
    # the orchestrator's own watchdog stops jobs, whole groups, with their grace.
    saved = os.environ.get(KILL_CHILDREN)
    os.environ[KILL_CHILDREN] = "false"
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "memory": 256 * MiB, "include_dashboard": False},
    )
    try:
        nodes = Nodes(cluster)
        # This process is a driver too: it reads what the cluster has free.
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        yield nodes
    finally:
        ray.shutdown()
        cluster.shutdown()
        if saved is None:
            os.environ.pop(KILL_CHILDREN, None)
        else:
            os.environ[KILL_CHILDREN] = saved


def short(node: Any) -> str:
    return str(node.node_id)[:NODE_ID_DIGITS]


def raylet_pid(node: Any) -> int:
    return int(node.all_processes["raylet"][0].process.pid)


def on_cluster(project: Project, nodes: Nodes, *args: str) -> subprocess.CompletedProcess[str]:
    return project.run("--backend", "ray", "--ray-address", nodes.address, *args, timeout=300)


def start_on_cluster(project: Project, nodes: Nodes, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SHIM), "--backend", "ray", "--ray-address", nodes.address, *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def where(project: Project, job_id: str) -> dict[str, int]:
    data: dict[str, int] = json.loads(
        (project.root / f"results/{job_id}_results/where.json").read_text()
    )
    return data


def test_jobs_run_on_the_nodes_that_have_their_resources(project: Project, nodes: Nodes) -> None:
    for job_id in ("big", "small", "anywhere", "roomy"):
        project.script(f"training/train_{job_id}.py", PROBE)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          big: {resources: {big_node: 1}}
          small: {resources: {small_node: 0.5}}
          anywhere: {cpus: 2}
          roomy: {memory: 1G}
        """,
    )
    result = on_cluster(project, nodes, "--parallel")
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = project.jobs()
    # The node recorded is the one whose raylet started the job's worker.
    placed = (("big", nodes.big), ("small", nodes.small), ("anywhere", nodes.big))
    # Only the big node has 1 GiB of Ray's `memory` resource (the small one 512 MiB).
    for job_id, node in (*placed, ("roomy", nodes.big)):
        (attempt,) = jobs[job_id]["attempts"]
        assert attempt["node"] == short(node), job_id
        assert where(project, job_id)["raylet"] == raylet_pid(node), job_id
    backend = project.summary()["backend"]
    assert backend["resources"]["big_node"] == backend["resources"]["small_node"] == 1.0


def test_a_job_no_node_can_run_is_refused_before_anything_starts(
    project: Project, nodes: Nodes
) -> None:
    for job_id in ("gpu", "two_bigs", "wide", "apart", "huge", "fine"):
        project.script(f"training/train_{job_id}.py", PROBE)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          gpu: {gpus: 0.5}
          two_bigs: {resources: {big_node: 2}}
          wide: {cpus: 3}
          apart: {cpus: 2, resources: {small_node: 1}}
          huge: {memory: 8G}
        """,
    )
    result = on_cluster(project, nodes)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: job apart: needs cpus 2, small_node 1 on one node, but none of 3 nodes has "
        "them together",
        "job gpu: needs gpus 0.5, but no Ray node has that (the most on one of 3 nodes: gpus 0)",
        "job huge: needs memory 8.0 GiB, but no Ray node has that "
        "(the most on one of 3 nodes: memory 4.0 GiB)",
        "job two_bigs: needs big_node 2, but no Ray node has that "
        "(the most on one of 3 nodes: big_node 1)",
        "job wide: needs cpus 3, but no Ray node has that (the most on one of 3 nodes: cpus 2)",
    ]
    assert not (project.root / "results/fine_results").exists()
    assert not (project.root / "summaries").exists()


def test_a_lost_node_is_node_lost_and_the_retry_runs_on_a_node_that_can_take_it(
    project: Project, nodes: Nodes
) -> None:
    """Two jobs, each alone on a node that is then removed: one's resource is on a node
    added meanwhile, where its retry runs; the other's is nowhere any more, and its
    retry fails saying so instead of waiting forever."""
    project.script("training/train_moved.py", STREAMER)
    project.script("training/train_stranded.py", STREAMER)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          moved: {resources: {pool: 1}, retries: 1, retry_delay: 0}
          stranded: {resources: {pool2: 1}, retries: 1, retry_delay: 0}
        """,
    )
    doomed, doomed2 = nodes.add(pool=1), nodes.add(pool2=1)
    proc = start_on_cluster(project, nodes, "--parallel")
    logs = {job_id: project.root / f"logs/{job_id}.log" for job_id in ("moved", "stranded")}
    # Lines shipped from the workers reach the logs here while the jobs run.
    wait_for(lambda: all(p.exists() and "line 5\n" in p.read_text() for p in logs.values()))
    first = {job_id: where(project, job_id) for job_id in logs}
    spare = nodes.add(pool=1)
    spare_raylet = raylet_pid(spare)
    try:
        nodes.cluster.remove_node(doomed)
        nodes.cluster.remove_node(doomed2)
        output, _ = proc.communicate(timeout=300)
    finally:
        nodes.cluster.remove_node(spare)
    assert proc.returncode == 1, output
    # The first attempts' process groups died with their workers, not orphaned.
    wait_for(lambda: not any(alive(seen["pid"]) for seen in first.values()), timeout=30)
    jobs = project.jobs()
    moved, stranded = jobs["moved"], jobs["stranded"]
    assert moved["status"] == "succeeded"
    lost, retried = moved["attempts"]
    assert (lost["status"], lost["error"], lost["node"]) == ("failed", "node_lost", short(doomed))
    assert (retried["status"], retried["node"]) == ("succeeded", short(spare))
    assert where(project, "moved")["raylet"] == spare_raylet
    assert f"retry  moved attempt 1/2 failed (node_lost on node {short(doomed)})" in output
    log = logs["moved"].read_text()
    lost_at = log.index(f": its Ray worker died, on node {short(doomed)}\n")
    assert log.index("line 5\n") < log.rindex("=== node_lost after ", 0, lost_at)
    assert log.index("=== attempt 2/2") > lost_at and "second attempt\n" in log
    assert stranded["status"] == "failed"
    lost, unplaced = stranded["attempts"]
    assert (lost["error"], lost["node"]) == ("node_lost", short(doomed2))
    assert (unplaced["status"], unplaced["node"]) == ("failed", None)
    assert unplaced["error"] == (
        "job stranded: needs pool2 1, but no Ray node has that "
        "(the most on one of 4 nodes: pool2 0)"
    )


def test_a_worker_told_to_stop_does_not_leave_its_job_running(
    project: Project, nodes: Nodes
) -> None:
    """Ray stops a worker with SIGTERM and, moments later, SIGKILL (its node going away,
    its memory monitor). A worker that got to unwind between the two told its watchdog
    all was well, and its job ran on, unwatched: seen in CI under load."""
    project.script("training/train_told.py", STREAMER)
    project.config("configs/jobs.yaml", "jobs:\n  told: {retries: 1, retry_delay: 0}\n")
    proc = start_on_cluster(project, nodes)
    log = project.root / "logs/told.log"
    wait_for(lambda: log.exists() and "line 5\n" in log.read_text())
    job = where(project, "told")["pid"]
    worker = parent_of(job)
    os.kill(worker, signal.SIGTERM)  # and no SIGKILL: as if it never came in time
    wait_for(lambda: not alive(job), timeout=30)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    lost, retried = project.jobs()["told"]["attempts"]
    assert (lost["error"], retried["status"]) == ("node_lost", "succeeded")
    assert "its Ray worker died" in log.read_text()


def test_ctrl_c_on_a_cluster_stops_every_job_and_frees_every_node(
    project: Project, nodes: Nodes
) -> None:
    for job_id in ("on_big", "on_small", "waiting"):
        project.script(f"training/train_{job_id}.py", SLEEPER)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          on_big: {resources: {big_node: 1}}
          on_small: {resources: {small_node: 1}}
          waiting: {needs: [on_big]}
        """,
    )
    proc = start_on_cluster(project, nodes, "--parallel")
    logs = [project.root / f"logs/{j}.log" for j in ("on_big", "on_small")]
    wait_for(lambda: all(p.exists() and "sleeping" in p.read_text() for p in logs))
    pids = [
        int((project.root / f"results/{j}_results/pid").read_text()) for j in ("on_big", "on_small")
    ]
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    statuses = {job["id"]: job["status"] for job in project.summary()["jobs"]}
    assert statuses == {"on_big": "cancelled", "on_small": "cancelled", "waiting": "skipped"}
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=15)
    # No task holds anything on any node: every CPU and custom resource is free again.
    held = ("CPU", "big_node", "small_node")

    def free() -> dict[str, float]:
        return {name: ray.available_resources().get(name, 0.0) for name in held}

    wait_for(lambda: free() == {name: ray.cluster_resources()[name] for name in held}, timeout=30)
