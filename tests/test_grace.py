"""The grace period belongs to a job's whole process group, and a hang-up stops a run cleanly.

Real processes and real signals (issue 16, points 3 and 5): a job started through a wrapper
(`command: [bash, run.sh]`) whose shell dies of SIGTERM at once, while the trainer it started
saves a checkpoint; and SIGHUP to the orchestrator, handled like SIGTERM unless it was
ignored when the run started (`nohup`). Durations are read from the summary and only bounded
from below (the order of events), never from above: the machine is shared.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHIM, Project, alive, group_alive

#: A trainer that announces itself (pid, group), then trains until stopped, for a minute at
#: most. On SIGTERM it takes a moment to save its checkpoint, as a real one would.
TRAINER = """
import os, pathlib, signal, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
def save(signum, frame):
    time.sleep(0.3)
    (out / "checkpoint.pt").write_text("epoch 3")
    print("checkpoint saved", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, {on_sigterm})
(out / "trainer.tmp").write_text(f"{{os.getpid()}} {{os.getpgid(0)}}")
(out / "trainer.tmp").rename(out / "trainer.pids")
print("training", flush=True)
time.sleep(60)
"""

#: A script that waits for the test's go-ahead; it notes a SIGTERM if it gets one.
WAITS_FOR_RELEASE = """
import os, pathlib, signal, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
def stop(signum, frame):
    (out / "sigterm.txt").write_text("handled")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
(out / "job.tmp").write_text(str(os.getpid()))
(out / "job.tmp").rename(out / "job.pid")
print("ready", flush=True)
release = pathlib.Path(os.environ["RELEASE_FILE"])
for _ in range(3000):
    if release.exists():
        break
    time.sleep(0.02)
"""

#: Starts the CLI the way `nohup` would: SIGHUP ignored across exec.
NOHUP = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def wrapped_job(project: Project, *, timeout: float | None, grace: float, stubborn: bool) -> Path:
    """`wrapped`: bash running the trainer as a child (no exec); its output dir."""
    on_sigterm = "signal.SIG_IGN" if stubborn else "save"
    project.script("tools/trainer.py", TRAINER.format(on_sigterm=on_sigterm))
    # A command after the trainer, so bash cannot exec it in its own place.
    project.script(
        "tools/run.sh",
        f'{shlex.quote(sys.executable)} tools/trainer.py\necho "trainer exited with $?"\n',
    )
    keys = f"command: [bash, tools/run.sh], grace: {grace}"
    keys += f", timeout: {timeout}" if timeout is not None else ""
    project.config("configs/jobs.yaml", f"jobs:\n  wrapped: {{{keys}}}\n")
    return project.root / "results/wrapped_results"


def trainer_pids(out: Path) -> tuple[int, int]:
    pid, pgid = map(int, (out / "trainer.pids").read_text().split())
    return pid, pgid


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.02)


def start_cli(project: Project, *prefix: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    env["RELEASE_FILE"] = str(project.root / "release")
    return subprocess.Popen(
        [sys.executable, *prefix, str(SHIM)],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: Runs one Supervisor in a process of its own: made a subreaper, the pytest worker would
#: adopt every orphan for the rest of the session, and `close` kills all the children it
#: finds (the Mermaid checker's node process among them).
SUPERVISED = """
import json, os, shlex, signal, sys, time
from pathlib import Path
from orchestrator.execute.supervisor import Supervisor
subreaper, watch = sys.argv[1] == "subreaper", sys.argv[2]
if watch == "thread" and hasattr(os, "pidfd_open"):
    del os.pidfd_open
saver = (
    "import signal, sys, time\\n"
    "def save(signum, frame):\\n"
    "    time.sleep(0.3); open('checkpoint.pt', 'w').write('saved'); sys.exit(0)\\n"
    "signal.signal(signal.SIGTERM, save)\\n"
    "open('ready', 'w').close(); time.sleep(60)\\n"
)
argv = ["sh", "-c", f"{shlex.quote(sys.executable)} -c {shlex.quote(saver)}; echo done"]
supervisor = Supervisor(orphans_tagged_by="GRACE_TEST_JOB" if subreaper else None)
try:
    supervisor.start("wrapped", argv, cwd=".", env={"GRACE_TEST_JOB": "wrapped"},
                     log_path="wrapped.log", header="#", grace=5)
    deadline = time.monotonic() + 30
    while not Path("ready").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    supervisor.stop("wrapped")
    ended = []
    while not ended:  # the stop request itself wakes the first wait
        ended = supervisor.wait(30)
    [(_, outcome)] = ended
finally:
    supervisor.close()
print(json.dumps([outcome.cancelled, outcome.signal, outcome.duration]))
"""


@pytest.mark.parametrize(
    ("subreaper", "watch"),
    [(True, "pidfd"), (True, "thread"), (False, "pidfd")],
    ids=["subreaper+pidfd", "subreaper+thread", "init-reaps+pidfd"],
)
def test_the_supervisor_ends_an_attempt_when_its_group_is_empty(
    tmp_path: Path, subreaper: bool, watch: str
) -> None:
    """Whether the orphans come to us (the CLI) or go to init (a Ray task), and however
    the leader's exit is seen."""
    if watch == "pidfd" and not hasattr(os, "pidfd_open"):
        pytest.skip("this platform has no pidfd_open")
    mode = "subreaper" if subreaper else "init"
    result = subprocess.run(
        [sys.executable, "-c", SUPERVISED, mode, watch],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(SHIM).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cancelled, signum, duration = json.loads(result.stdout)
    assert cancelled and signum == signal.SIGTERM  # the shell's own end
    assert (tmp_path / "checkpoint.pt").read_text() == "saved"
    assert duration >= 0.3  # it ended with the trainer, not with the shell


def test_a_wrapper_dying_of_sigterm_leaves_its_trainer_the_grace(project: Project) -> None:
    out = wrapped_job(project, timeout=1, grace=5, stubborn=False)
    assert project.run().returncode == 1
    job = project.jobs()["wrapped"]
    assert job["status"] == "timed_out"
    assert job["attempts"][0]["signal"] == signal.SIGTERM  # bash died of it at once
    assert (out / "checkpoint.pt").read_text() == "epoch 3"
    log = (project.root / "logs/wrapped.log").read_text()
    assert "checkpoint saved" in log
    assert log.rstrip().splitlines()[-1].startswith("=== timed out after ")
    trainer, pgid = trainer_pids(out)
    assert not alive(trainer)
    assert not group_alive(pgid)


def test_cancelling_the_run_leaves_a_wrapped_trainer_the_grace(project: Project) -> None:
    out = wrapped_job(project, timeout=None, grace=5, stubborn=False)
    proc = start_cli(project)
    wait_for_file(out / "trainer.pids")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert project.jobs()["wrapped"]["status"] == "cancelled"
    assert (out / "checkpoint.pt").read_text() == "epoch 3"
    trainer, pgid = trainer_pids(out)
    assert not alive(trainer)
    assert not group_alive(pgid)


def test_a_grandchild_ignoring_sigterm_is_killed_when_the_grace_is_over(
    project: Project,
) -> None:
    out = wrapped_job(project, timeout=1, grace=1.5, stubborn=True)
    assert project.run().returncode == 1
    (attempt,) = project.jobs()["wrapped"]["attempts"]
    assert attempt["status"] == "timed_out"
    assert attempt["duration_s"] >= 2.5  # it ended at the SIGKILL: timeout + grace
    assert not (out / "checkpoint.pt").exists()
    trainer, pgid = trainer_pids(out)
    assert not alive(trainer)
    assert not group_alive(pgid)


def test_sighup_stops_the_run_like_sigterm_and_writes_the_summary(project: Project) -> None:
    project.script("training/train_hup.py", WAITS_FOR_RELEASE)
    out = project.root / "results/hup_results"
    proc = start_cli(project)
    try:
        wait_for_file(out / "job.pid")
        proc.send_signal(signal.SIGHUP)
        _, stderr = proc.communicate(timeout=60)
    finally:
        (project.root / "release").touch()  # whatever happened, the job may go
    assert proc.returncode == 129, stderr
    summary = project.summary()
    assert summary["interrupted_by"] == "SIGHUP"
    assert summary["exit_code"] == 129
    assert project.jobs()["hup"]["status"] == "cancelled"
    assert (out / "sigterm.txt").read_text() == "handled"
    assert not alive(int((out / "job.pid").read_text()))


def test_sighup_ignored_at_start_stays_ignored(project: Project) -> None:
    project.script("training/train_hup.py", WAITS_FOR_RELEASE)
    out = project.root / "results/hup_results"
    proc = start_cli(project, "-c", NOHUP)
    try:
        wait_for_file(out / "job.pid")
        # Ignored, not caught: the kernel drops the signal as it is sent, so releasing the
        # job right after cannot outrun a handler.
        status = Path(f"/proc/{proc.pid}/status").read_text()
        masks = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
        assert int(masks["SigIgn"], 16) & 1 << (signal.SIGHUP - 1)
        proc.send_signal(signal.SIGHUP)
    finally:
        (project.root / "release").touch()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert project.summary()["interrupted_by"] is None
    assert project.jobs()["hup"]["status"] == "succeeded"
    assert not (out / "sigterm.txt").exists()
