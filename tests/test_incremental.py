"""Resume after a crash, rerun what failed, and skip what has not changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import GOOD_SCRIPT, SHIM, Project

# Waits while a `block` file exists (and its orchestrator lives), then succeeds.
BLOCKABLE = """
import argparse, os, pathlib, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args = parser.parse_args()
parent = os.getppid()
while pathlib.Path("block").exists():
    if os.getppid() != parent:
        sys.exit(1)  # the orchestrator is gone: do not linger
    time.sleep(0.05)
(pathlib.Path(args.output_dir) / "model.joblib").write_text("weights")
"""

# Writes a model, and fails while a `fail` file exists.
MODEL = """
import argparse, json, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
(out / "model.joblib").write_text("weights")
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
sys.exit(1 if pathlib.Path("fail").exists() else 0)
"""


def succeeded_attempts(project: Project) -> Counter[str]:
    """Successful attempts per job over every run's journal in the project."""
    counts: Counter[str] = Counter()
    for path in (project.root / "summaries").glob("journal_*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "attempt_ended" and record["attempt"]["status"] == "succeeded":
                counts[record["job"]] += 1
    return counts


def started(project: Project, job_id: str) -> bool:
    for path in (project.root / "summaries").glob("journal_*.jsonl"):
        for line in path.read_text().splitlines():
            if '"event":"attempt_started"' in line and f'"job":"{job_id}"' in line:
                return True
    return False


def statuses(project: Project) -> dict[str, str]:
    return {job_id: job["status"] for job_id, job in project.jobs().items()}


def test_resume_after_sigkill_runs_each_success_exactly_once(project: Project) -> None:
    project.script("training/train_a_first.py", MODEL)
    project.script("training/train_b_blocked.py", BLOCKABLE)
    project.script("training/train_c_last.py", MODEL)
    project.config("configs/jobs.yaml", "jobs:\n  c_last: {needs: [b_blocked]}\n")
    (project.root / "block").write_text("")
    proc = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not started(project, "b_blocked"):
        assert time.monotonic() < deadline, "b_blocked never started"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    (project.root / "block").unlink()
    result = project.run("--resume")
    assert result.returncode == 0, result.stdout
    assert statuses(project) == {
        "a_first": "reused",
        "b_blocked": "succeeded",
        "c_last": "succeeded",
    }
    assert project.jobs()["a_first"]["from_run"] is not None
    assert project.jobs()["a_first"]["metrics"] == {"accuracy": 0.9}
    assert succeeded_attempts(project) == {"a_first": 1, "b_blocked": 1, "c_last": 1}


def test_rerun_failed_reruns_only_failures(project: Project) -> None:
    project.script("training/train_good.py", MODEL)
    project.script("training/train_flaky.py", MODEL)
    project.script("training/train_zlate.py", MODEL)
    project.config("configs/jobs.yaml", "jobs:\n  zlate: {needs: [flaky]}\n")
    (project.root / "fail").write_text("")
    (project.root / "training/train_good.py").write_text(
        MODEL.replace('pathlib.Path("fail")', 'pathlib.Path("nope")')
    )
    assert project.run().returncode == 1
    assert statuses(project) == {"good": "succeeded", "flaky": "failed", "zlate": "skipped"}
    (project.root / "fail").unlink()
    result = project.run("--rerun-failed")
    assert result.returncode == 1  # zlate was skipped, not failed: still not run
    assert statuses(project) == {"good": "reused", "flaky": "succeeded", "zlate": "skipped"}
    assert project.jobs()["zlate"]["reason"] == "not rerun: --rerun-failed (was skipped)"
    assert project.run("--resume").returncode == 0
    assert statuses(project) == {"good": "reused", "flaky": "reused", "zlate": "succeeded"}


def test_unchanged_jobs_are_cached_and_edits_rerun_dependents_only(project: Project) -> None:
    project.script("training/train_a.py", MODEL)
    project.script("training/train_b.py", MODEL)
    project.script("training/train_c.py", MODEL)
    project.config("configs/jobs.yaml", "jobs:\n  b: {needs: [a]}\n")
    assert project.run().returncode == 0
    assert statuses(project) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert project.run().returncode == 0
    assert statuses(project) == {"a": "cached", "b": "cached", "c": "cached"}
    assert project.jobs()["a"]["attempts"] == []
    assert project.jobs()["a"]["metrics"] == {"accuracy": 0.9}
    project.script("training/train_a.py", MODEL + "# a comment is a change too\n")
    dry = project.run("--dry-run").stdout
    assert "# runs: script changed" in dry
    assert "# runs: upstream a changed" in dry
    assert "# cached: unchanged since " in dry
    assert project.run().returncode == 0
    assert statuses(project) == {"a": "succeeded", "b": "succeeded", "c": "cached"}


def test_damaged_output_dir_reruns_that_job(project: Project) -> None:
    project.script("training/train_a.py", MODEL)
    project.script("training/train_c.py", MODEL)
    project.run()
    (project.root / "results/a_results/model.joblib").unlink()
    dry = json.loads(project.run("--dry-run", "--format", "json").stdout)
    decisions = {job["id"]: job["decision"] for job in dry["jobs"]}
    assert decisions["a"] == {"action": "run", "reason": "output changed: model.joblib missing"}
    assert decisions["c"]["action"] == "cached"
    project.run()
    assert statuses(project) == {"a": "succeeded", "c": "cached"}
    assert (project.root / "results/a_results/model.joblib").is_file()


def test_a_terabyte_checkpoint_is_cached_by_size_and_mtime_unread(project: Project) -> None:
    """Hashing it as the job ended stalled the run (Ctrl-C, SIGTERM and other jobs'
    timeouts unheard) for the half hour reading a sparse terabyte takes."""
    project.script(
        "training/train_big.py",
        GOOD_SCRIPT + "(out / 'model.ckpt').open('wb').truncate(1 << 40)\n",
    )
    assert project.run().returncode == 0
    assert statuses(project) == {"big": "succeeded"}
    assert project.run().returncode == 0
    assert statuses(project) == {"big": "cached"}
    os.utime(project.root / "results/big_results/model.ckpt")
    dry = json.loads(project.run("--dry-run", "--format", "json").stdout)
    assert dry["jobs"][0]["decision"] == {
        "action": "run",
        "reason": "output changed: model.ckpt modified",
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--force"], {"a": "succeeded", "c": "succeeded"}),
        (["--force", "a"], {"a": "succeeded", "c": "cached"}),
    ],
)
def test_force(project: Project, args: list[str], expected: dict[str, str]) -> None:
    project.script("training/train_a.py", MODEL)
    project.script("training/train_c.py", MODEL)
    project.run()
    assert project.run(*args).returncode == 0
    assert statuses(project) == expected


def test_cache_false_and_changed_args_run_again(project: Project) -> None:
    project.script("training/train_a.py", GOOD_SCRIPT)
    project.script("training/train_c.py", GOOD_SCRIPT)
    project.config("configs/jobs.yaml", "jobs:\n  c: {cache: false}\n")
    project.run()
    project.run()
    assert statuses(project) == {"a": "cached", "c": "succeeded"}
    project.run("--epochs", "3")
    assert statuses(project) == {"a": "succeeded", "c": "succeeded"}


def test_inputs_globs_are_part_of_the_fingerprint(project: Project) -> None:
    project.script("training/train_a.py", MODEL)
    (project.root / "data").mkdir()
    (project.root / "data/train.csv").write_text("x,y\n1,2\n")
    project.config("configs/jobs.yaml", "jobs:\n  a: {inputs: ['data/*.csv']}\n")
    project.run()
    project.run()
    assert statuses(project) == {"a": "cached"}
    (project.root / "data/train.csv").write_text("x,y\n1,3\n")
    decision = json.loads(project.run("--dry-run", "--format", "json").stdout)["jobs"][0]
    assert decision["decision"] == {"action": "run", "reason": "inputs changed"}


def test_deleting_the_state_dir_is_safe(project: Project) -> None:
    project.script("training/train_a.py", MODEL)
    project.run()
    shutil.rmtree(project.root / ".train_orch")
    assert project.run().returncode == 0
    assert statuses(project) == {"a": "succeeded"}


def test_resume_reruns_a_success_whose_output_dir_is_gone(project: Project) -> None:
    project.script("training/train_up.py", MODEL)
    project.script("training/train_down.py", MODEL)
    project.config("configs/jobs.yaml", "jobs:\n  down: {needs: [up]}\n")
    (project.root / "fail").write_text("")
    project.script(
        "training/train_up.py", MODEL.replace('pathlib.Path("fail")', 'pathlib.Path("nope")')
    )
    assert project.run().returncode == 1
    assert statuses(project) == {"up": "succeeded", "down": "failed"}
    (project.root / "fail").unlink()
    shutil.rmtree(project.root / "results/up_results")
    plan = json.loads(project.run("--resume", "--dry-run", "--format", "json").stdout)
    reasons = {job["id"]: job["decision"] for job in plan["jobs"]}
    assert reasons["up"]["action"] == "run"
    assert reasons["up"]["reason"].endswith(", but results/up_results is gone")
    result = project.run("--resume")
    assert result.returncode == 0, result.stdout
    assert statuses(project) == {"up": "succeeded", "down": "succeeded"}
