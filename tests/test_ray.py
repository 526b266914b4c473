"""The Ray backend on a real local Ray instance: same results, resources, timeouts, signals,
lost workers; and a clear error where Ray is missing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SHIM, Project, alive, load_summary

pytest.importorskip("ray", reason="the ray extra is part of .[dev]")

SPAN = """
import json, os, pathlib, time
start = time.time()
time.sleep(0.8)
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
(out / "span.json").write_text(json.dumps([start, time.time(), os.environ["OMP_NUM_THREADS"]]))
"""

SPAWNER = """
import os, pathlib, subprocess, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
(out / "pids.json").write_text('{"job": %d, "grandchild": %d}' % (os.getpid(), child.pid))
print("spawned", flush=True)
time.sleep(300)
"""

# Records its Ray worker's pid (its parent) and waits; exits if that worker dies. On a
# second attempt (the marker exists) it succeeds at once.
WORKER_VICTIM = """
import os, pathlib, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
marker = out / "worker.pid"
if marker.exists():
    print("second attempt", flush=True)
    sys.exit(0)
parent = os.getppid()
marker.write_text(str(parent))
print("first attempt on worker", parent, flush=True)
for _ in range(600):
    if os.getppid() != parent:
        sys.exit(1)
    time.sleep(0.1)
"""

#: Sleeps until stopped, or orphaned (it must not outlive a failed test), for at most
#: 5 minutes, and then fails: under load a cancel has taken over a minute to arrive, and
#: a sleeper that ended well on its own read as a job the cancel never reached.
SLEEPER = """
import os, pathlib, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
(out / "pid").write_text(str(os.getpid()))
print("sleeping", flush=True)
parent = os.getppid()
for _ in range(3000):
    if os.getppid() != parent:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("nobody stopped me")
"""


def wait_for(predicate: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def essence(summary: dict[str, Any]) -> dict[str, tuple[str, dict[str, float]]]:
    return {job["id"]: (job["status"], job["metrics"]) for job in summary["jobs"]}


def test_bundled_smoke_suite_on_ray_matches_the_local_backend(tmp_path: Path) -> None:
    def run(backend: str) -> dict[str, Any]:
        root = tmp_path / backend
        result = subprocess.run(
            [
                sys.executable,
                str(SHIM),
                "--profile",
                "smoke",
                "--parallel",
                "-q",
                "--backend",
                backend,
                "--output-root",
                str(root),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=400,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return load_summary(root / "summaries/latest.json")

    on_ray, local = run("ray"), run("local")
    assert essence(on_ray) == essence(local)
    assert on_ray["backend"]["name"] == "ray"
    assert on_ray["backend"]["resources"]["CPU"] == float(os.cpu_count() or 1)
    assert all(a["node"] for job in on_ray["jobs"] for a in job["attempts"])


def test_cpus_are_honoured_and_timeouts_kill_the_group_on_the_worker(project: Project) -> None:
    project.script("training/train_big_a.py", SPAN)
    project.script("training/train_big_b.py", SPAN)
    project.script("training/train_stuck.py", SPAWNER)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          big_a: {cpus: 2}
          big_b: {cpus: 2}
          stuck: {timeout: 2, grace: 1, retries: 0}
    """,
    )
    result = project.run(
        "--backend", "ray", "--cpus", "2", "--parallel", "--max-workers", "3", timeout=200
    )
    assert result.returncode == 1, result.stdout + result.stderr
    spans = [
        json.loads((project.root / f"results/{j}_results/span.json").read_text())
        for j in ("big_a", "big_b")
    ]
    (a_start, a_end, a_threads), (b_start, b_end, b_threads) = spans
    assert a_end <= b_start or b_end <= a_start  # two 2-cpu jobs on 2 cpus never overlap
    assert a_threads == b_threads == "2"
    stuck = project.jobs()["stuck"]
    assert stuck["status"] == "timed_out"
    pids = json.loads((project.root / "results/stuck_results/pids.json").read_text())
    wait_for(lambda: not alive(pids["grandchild"]) and not alive(pids["job"]), timeout=10)
    log = (project.root / "logs/stuck.log").read_text()
    assert "spawned" in log and "=== timed out after" in log  # shipped from the worker


def test_sigint_cancels_ray_tasks_and_writes_the_summary(project: Project) -> None:
    for job_id in ("a", "b", "c"):
        project.script(f"training/train_{job_id}.py", SLEEPER)
    proc = subprocess.Popen(
        [sys.executable, str(SHIM), "--backend", "ray", "--cpus", "2", "--parallel"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = [project.root / f"logs/{j}.log" for j in ("a", "b")]
    wait_for(lambda: all(p.exists() and "sleeping" in p.read_text() for p in logs))
    pids = [int((project.root / f"results/{j}_results/pid").read_text()) for j in ("a", "b")]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    statuses = {job["id"]: job["status"] for job in project.summary()["jobs"]}
    assert statuses == {"a": "cancelled", "b": "cancelled", "c": "skipped"}
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=15)


def test_a_killed_worker_is_a_failed_attempt_and_is_retried(project: Project) -> None:
    project.script("training/train_victim.py", WORKER_VICTIM)
    project.config("configs/jobs.yaml", "jobs:\n  victim: {retries: 1, retry_delay: 0}\n")
    proc = subprocess.Popen(
        [sys.executable, str(SHIM), "--backend", "ray"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = project.root / "results/victim_results/worker.pid"
    # write_text creates the file before it writes: wait for the pid, not the file.
    wait_for(lambda: marker.exists() and marker.read_text().strip())
    os.kill(int(marker.read_text()), signal.SIGKILL)
    assert proc.wait(timeout=120) == 0
    job = project.jobs()["victim"]
    assert job["status"] == "succeeded"
    first, second = job["attempts"]
    assert (first["status"], first["error"]) == ("failed", "node_lost")
    assert second["status"] == "succeeded"
    assert "second attempt" in (project.root / "logs/victim.log").read_text()


def test_missing_ray_is_a_clear_usage_error(project: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "blocked/ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    project.script("training/train_a.py", SLEEPER)
    result = project.run("--backend", "ray", env={"PYTHONPATH": str(blocker.parent)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --backend ray needs Ray, which is not installed: "
        'pip install "training-orchestrator[ray]"'
    )
    assert not (project.root / "summaries").exists()


def test_an_address_no_cluster_answers_at_is_a_clear_usage_error(project: Project) -> None:
    """Ray itself would retry it for minutes, logging warnings."""
    project.script("training/train_a.py", SLEEPER)
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        refused = project.run("--backend", "ray", "--ray-address", f"127.0.0.1:{port}")
        malformed = project.run("--backend", "ray", "--ray-address", "head-node")
    assert (refused.returncode, refused.stderr.splitlines()[-1]) == (
        2,
        f"error: --ray-address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused)",
    )
    assert (malformed.returncode, malformed.stderr.splitlines()[-1]) == (
        2,
        "error: --ray-address head-node: expected auto, HOST:PORT or ray://HOST:PORT",
    )
    assert not (project.root / "summaries").exists()
