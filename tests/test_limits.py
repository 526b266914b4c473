"""What a config may ask for, and what happens when it asks too much.

Repeats in `needs`/`tags`/`inputs` mean nothing more; a matrix or grid past its
documented size is refused before it is built (`--max-jobs`); a stop signal while loading
or planning ends the command at once, with a line and 128 + the signal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from conftest import SHIM, Project

from orchestrator.config import MAX_GRID_POINTS
from orchestrator.models import DEFAULT_MAX_JOBS


# --------------------------------------------------------------------------- repeats
def test_a_need_listed_twice_runs_and_counts_once(project: Project) -> None:
    """`needs: [a, a]` ran `b` twice; the summary counted 3 successes for 2 jobs."""
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          a: {command: [sh, -c, "echo a >> runs.txt"]}
          b:
            command: [sh, -c, "echo b >> runs.txt"]
            needs: [a, a]
            tags: [x, x, y]
            inputs: [data.csv, data.csv]
        """,
    )
    (project.root / "data.csv").write_text("1\n")
    plan = json.loads(project.run("--dry-run", "--format", "json").stdout)
    b = next(job for job in plan["jobs"] if job["id"] == "b")
    assert (b["needs"], b["tags"]) == (["a"], ["x", "y"])
    edges = plan["edges"]
    assert edges == [["a", "b"]]
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert (project.root / "runs.txt").read_text() == "a\nb\n"
    summary = project.summary()
    assert [job["id"] for job in summary["jobs"]] == ["a", "b"]
    assert [job["status"] for job in summary["jobs"]] == ["succeeded", "succeeded"]


def test_a_need_on_a_matrix_and_its_member_is_one_need(project: Project) -> None:
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          m: {command: [echo], matrix: {seed: [0, 1]}}
          after: {command: [echo], needs: [m, "m[seed=0]"]}
        """,
    )
    plan = json.loads(project.run("--dry-run", "--format", "json").stdout)
    after = next(job for job in plan["jobs"] if job["id"] == "after")
    assert after["needs"] == ["m[seed=0]", "m[seed=1]"]


# ---------------------------------------------------------------------------- sizes
def axes(count: int) -> str:
    """A matrix of `count` combinations over two axes (count a multiple of 100)."""
    return f"{{a: {list(range(100))}, b: {list(range(count // 100))}}}"


def test_a_matrix_past_max_jobs_is_refused_before_it_is_built(project: Project) -> None:
    """A million combinations ran away (minutes, gigabytes); now a line, exit 2."""
    project.config(
        "configs/jobs.yaml",
        f"jobs:\n  big:\n    command: [echo]\n    matrix: {axes(1_000_000)}\n",
    )
    result = project.run("--list")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:4:5: jobs.big.matrix: 1,000,000 combinations (100 x 10000) "
        f"is more than --max-jobs {DEFAULT_MAX_JOBS:,}; raise --max-jobs to run them all"
    )


def test_several_matrices_past_max_jobs_together_are_refused(project: Project) -> None:
    project.config(
        "configs/jobs.yaml",
        "jobs:\n"
        f"  one: {{command: [echo], matrix: {axes(600)}}}\n"
        f"  two: {{command: [echo], matrix: {axes(500)}}}\n",
    )
    result = project.run("--list", "--max-jobs", "1000")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: 1,100 jobs once matrices are expanded, more than --max-jobs 1,000; "
        "raise --max-jobs to plan them all"
    )
    listed = project.run("--list", "--format", "json", env={"TRAIN_ORCH_MAX_JOBS": "1100"})
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["jobs"]) == 1100


def test_a_grid_past_its_size_is_refused_at_config_time(project: Project) -> None:
    """Optuna's grid sampler lists every point first: gigabytes for a wide int range."""
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          sw:
            command: [echo]
            sweep:
              metric: accuracy
              sampler: grid
              n_trials: 3
              params: {n: {int: [0, 1000000000]}, k: {choices: [a, b]}}
        """,
    )
    result = project.run("--dry-run")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:8:7: jobs.sw.sweep.params: a grid of 2,000,000,002 points "
        f"(1000000001 x 2) is more than {MAX_GRID_POINTS:,}; narrow the ranges, or use the "
        "tpe or random sampler"
    )


# -------------------------------------------------------------------------- signals
def test_a_stop_signal_while_planning_is_acted_on(project: Project) -> None:
    """SIGTERM's default ended the process without a word; SIGINT became click's
    "Aborted!" and exit 1. A plan of 200,000 jobs takes long enough to be caught in it."""
    project.config(
        "configs/jobs.yaml",
        f"jobs:\n  big:\n    command: [echo]\n    matrix: {axes(200_000)}\n",
    )
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        started = subprocess.Popen(
            [sys.executable, str(SHIM), "--dry-run", "--max-jobs", "200000"],
            cwd=project.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)  # past start-up (~0.2 s) and into planning (many seconds)
        assert started.poll() is None, "planned 200,000 jobs before the signal came"
        started.send_signal(sig)
        _, stderr = started.communicate(timeout=60)
        assert started.returncode == code, stderr
        assert stderr == f"interrupted by {sig.name} (no job was running)\n"
