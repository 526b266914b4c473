"""Losing the terminal never loses the run (issue 16): a reader that goes away (`| head -1`,
a `tee` killed by the same Ctrl-C) turns the console off, and the run goes on as if it had
never printed: same exit code, every job run, its grace honoured, its summary written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import GOOD_SCRIPT, SHIM, Project

#: The one line a run leaves on a live stderr when its stdout went away.
NOTE = re.compile(
    r"warning: stdout was lost \(Broken pipe\); the run went on: exit 0 · "
    r"summary: (summaries/training_summary_\w+\.json)"
)

#: Exits by itself if the orchestrator dies, so a failing run on the old code leaves no
#: stray process behind.
WAITS_FOR_GO = """
import os, pathlib, time
parent = os.getppid()
while not pathlib.Path({go!r}).exists() and os.getppid() == parent:
    time.sleep(0.02)
print("went", flush=True)
"""

#: A training script whose SIGTERM handler saves a checkpoint: the proof that it got its grace.
CHECKPOINTS = """
import os, pathlib, signal, sys, time
def stop(signum, frame):
    pathlib.Path({checkpoint!r}).write_text("epoch 3")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
parent = os.getppid()
print("up", flush=True)
while os.getppid() == parent:
    time.sleep(0.02)
"""


def start(project: Project, *args: str, stdout: Any, stderr: Any) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAIN_ORCH_", "GITHUB_"))}
    return subprocess.Popen(
        [sys.executable, str(SHIM), *args],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until predicate() holds; a hang fails the test instead of blocking the suite."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.02)


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def statuses(project: Project) -> dict[str, str]:
    return {job_id: job["status"] for job_id, job in project.jobs().items()}


def test_head_1_closes_stdout_and_the_parallel_run_goes_on(project: Project) -> None:
    go = project.root / "go"
    project.script("training/train_a.py")
    project.script("training/train_b.py")
    project.script("training/train_gated.py", WAITS_FOR_GO.format(go=str(go)))
    proc = start(
        project, "--parallel", "--max-workers", "3", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert b"running 3 jobs" in proc.stdout.readline()
    proc.stdout.close()  # `head -1` is done: every later console line meets EPIPE
    go.touch()  # only now does `gated` finish, so its line and the table come after
    code = proc.wait(timeout=60)  # what stderr holds is far less than a pipe's buffer
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert code == 0, stderr
    (note,) = stderr.splitlines()
    match = NOTE.fullmatch(note)
    assert match, note
    assert (project.root / match[1]).read_text() == text(project.root / "summaries/latest.json")
    assert statuses(project) == {"a": "succeeded", "b": "succeeded", "gated": "succeeded"}
    assert project.summary()["exit_code"] == 0
    assert text(project.root / "logs/gated.log").count("went") == 1


def test_ctrl_c_with_a_dead_tee_keeps_the_grace_and_the_summary(project: Project) -> None:
    checkpoint = project.root / "checkpoint.txt"
    project.script("training/train_a_long.py", CHECKPOINTS.format(checkpoint=str(checkpoint)))
    project.script("training/train_b_later.py")
    # `run-all-training 2>&1 | tee run.log`: stdout and stderr are one pipe
    proc = start(project, "--grace", "30", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    wait_for(lambda: "up" in text(project.root / "logs/a_long.log"))
    proc.stdout.close()  # Ctrl-C reaches tee too, and tee dies first
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert checkpoint.read_text() == "epoch 3"
    summary = project.summary()
    assert summary["interrupted_by"] == "SIGINT"
    assert statuses(project) == {"a_long": "cancelled", "b_later": "skipped"}
    (attempt,) = project.jobs()["a_long"]["attempts"]
    assert (attempt["exit_code"], attempt["signal"]) == (0, None)


def test_warning_to_a_closed_stderr_does_not_stop_the_run(project: Project) -> None:
    project.script("training/train_a.py", GOOD_SCRIPT)
    project.script("scripts/train_a.py", GOOD_SCRIPT)  # the id clash warns before the run
    read, write = os.pipe()
    os.close(read)  # nobody will ever read: the very first write fails
    proc = start(project, stdout=write, stderr=write)
    os.close(write)
    assert proc.wait(timeout=60) == 0
    assert statuses(project) == {"a": "succeeded", "a@scripts": "succeeded"}


def test_ctrl_c_before_the_run_starts_ends_with_130_and_no_noise(project: Project) -> None:
    """Interrupted while it reads its config (a FIFO nobody writes: `--config <(...)`
    whose producer hangs), the CLI ends as a shell expects, not with click's "Aborted!"
    and exit 1, nor a traceback."""
    fifo = project.root / "configs/jobs.yaml"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    cli = subprocess.Popen(
        [sys.executable, str(SHIM), "--list"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = None
    try:
        # Opening a FIFO's write end without blocking works once a reader has it open:
        # then the CLI is in its config, waiting for text that does not come.
        deadline = time.monotonic() + 60
        while writer is None and time.monotonic() < deadline:
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.02)
        assert writer is not None, "the CLI never opened its config"
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    finally:
        cli.kill()
        if writer is not None:
            os.close(writer)
    assert cli.returncode == 130, err
    assert "Aborted" not in err
    assert "Traceback" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_command_whose_product_is_its_output_fails_when_the_disk_is_full(
    project: Project,
) -> None:
    """`--dry-run --format json > plan.json` on a full disk leaves a truncated plan: a
    script must not take it for the whole. A run's product is its summary: its exit code
    stays its jobs', and a closed pipe (`| head`) stays what the user asked for."""
    project.script("training/train_a.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}

    def to_full_disk(*args: str) -> subprocess.CompletedProcess[str]:
        with Path("/dev/full").open("w") as full:
            return subprocess.run(
                [sys.executable, str(SHIM), *args],
                cwd=project.root,
                env=env,
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
                check=False,
            )

    for args in (["--list"], ["--dry-run", "--format", "json"], ["config-schema"]):
        result = to_full_disk(*args)
        assert (result.returncode, result.stderr) == (
            1,
            "error: could not write the output: No space left on device\n",
        ), args
    ran = to_full_disk()
    assert ran.returncode == 0, ran.stderr
    assert "warning: stdout was lost (No space left on device); the run went on: exit 0" in (
        ran.stderr
    )
    gone = start(project, "--list", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert gone.stdout is not None
    gone.stdout.close()  # the reader left before the first line: every write is EPIPE
    _, err = gone.communicate(timeout=120)
    assert (gone.returncode, err) == (0, b"")
