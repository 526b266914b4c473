"""Jobs do not outlive an orchestrator killed with SIGKILL, and --resume stops a leftover.

Real processes (issue 16, point 4): the CLI is killed with SIGKILL while a job runs; its
watchdog must stop the job's whole group, giving it its grace. A job that survives anyway
(its watchdog was killed too) is stopped by `--resume` before the job runs again, found
by the pid and start time its attempt_started record keeps. Deadlines only bound polls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SHIM, Project, alive

from orchestrator.execute.descendants import ORPHAN_CHECK_EVERY
from orchestrator.execute.watchdog import watching

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc to find the processes"
)

#: A job that starts a grandchild in its group, records both pids and its siblings (the
#: orchestrator's other children: the watchdog), then trains until stopped. On SIGTERM it
#: takes a moment to save a checkpoint. Run a second time (`done` exists), it just ends.
TRAINER = """
import json, os, pathlib, signal, subprocess, sys, time
here = pathlib.Path(__file__).parent
def save(signum, frame):
    time.sleep(0.3)
    (here / "checkpoint").write_text("epoch 3")
    sys.exit(0)
signal.signal(signal.SIGTERM, save)
if (here / "done").exists():
    sys.exit(0)
(here / "done").write_text("")
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
parent = os.getppid()
siblings = []
for task in pathlib.Path(f"/proc/{parent}/task").iterdir():
    siblings += (task / "children").read_text().split()
siblings = [int(p) for p in siblings if int(p) != os.getpid()]
cmdlines = [pathlib.Path(f"/proc/{p}/cmdline").read_bytes().decode() for p in siblings]
info = {"pid": os.getpid(), "child": child.pid, "parent": parent, "siblings": siblings,
        "cmdlines": cmdlines}
(here / "pids.tmp").write_text(json.dumps(info))
(here / "pids.tmp").rename(here / "pids.json")
time.sleep(60)
"""


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds}s")
        time.sleep(0.02)


def start_cli(project: Project, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    with (project.root / "cli.err").open("ab") as err:
        return subprocess.Popen(
            [sys.executable, str(SHIM), *args],
            cwd=project.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def running_trainer(project: Project) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """The CLI, started with one `trainer` job, once the job has recorded its pids."""
    project.script("training/train_trainer.py", TRAINER)
    project.config("configs/jobs.yaml", "jobs:\n  trainer: {grace: 20}\n")
    cli = start_cli(project)
    pids = project.root / "training/pids.json"
    wait_until(pids.exists, "the job starts")
    return cli, json.loads(pids.read_text())


def watchdogs(info: dict[str, Any]) -> list[int]:
    """The orchestrator's children that are not jobs: its watchdog."""
    return [
        int(pid)
        for pid, cmd in zip(info["siblings"], info["cmdlines"], strict=True)
        if "orchestrator.execute.watchdog" in cmd
    ]


def kill_orchestrator_and_watchdog(cli: subprocess.Popen[bytes], info: dict[str, Any]) -> None:
    """The watchdog dies first (the OOM killer, say): then nothing stops the job."""
    for dog in watchdogs(info):
        os.kill(dog, signal.SIGKILL)
    cli.send_signal(signal.SIGKILL)
    cli.wait(timeout=30)


def test_sigkill_of_the_orchestrator_stops_its_jobs_whole_group(project: Project) -> None:
    cli, info = running_trainer(project)
    job, grandchild = int(info["pid"]), int(info["child"])
    cli.send_signal(signal.SIGKILL)
    cli.wait(timeout=30)
    wait_until(lambda: not alive(job) and not alive(grandchild), "the job and its child end")
    # It got its grace: SIGTERM first, and the time to save a checkpoint.
    assert (project.root / "training/checkpoint").read_text() == "epoch 3"
    assert "stopping 1 job group(s)" in (project.root / "cli.err").read_text()


def test_a_normal_run_leaves_no_watchdog(project: Project) -> None:
    project.script("training/train_trainer.py", TRAINER)
    (project.root / "training/done").write_text("")  # the job ends at once
    project.script(
        "training/train_looks.py",
        TRAINER.replace('if (here / "done").exists():\n    sys.exit(0)\n', "").replace(
            "time.sleep(60)\n", "child.kill()\n"
        ),
    )
    result = project.run()
    assert result.returncode == 0, result.stderr
    dogs = watchdogs(json.loads((project.root / "training/pids.json").read_text()))
    assert len(dogs) == 1
    assert not alive(dogs[0])


def test_resume_stops_an_old_attempt_that_outlived_its_run(project: Project) -> None:
    cli, info = running_trainer(project)
    job = int(info["pid"])
    kill_orchestrator_and_watchdog(cli, info)
    try:
        assert alive(job)
        attempt = next(r for r in project.journal() if r["event"] == "attempt_started")
        assert (attempt.get("pid"), attempt.get("pgid")) == (job, job)
        assert isinstance(attempt["starttime"], int)
        result = project.run("--resume")
    finally:
        if alive(job):
            os.killpg(job, signal.SIGKILL)
    assert result.returncode == 0, result.stderr
    assert f"job 'trainer' of run {attempt_run(project)} is still running (pid {job})" in (
        result.stderr + result.stdout
    )
    # Stopped with its grace before the new attempt ran, which then found `done`.
    assert not alive(job)
    assert (project.root / "training/checkpoint").read_text() == "epoch 3"
    assert project.jobs()["trainer"]["status"] == "succeeded"


def test_resume_leaves_alone_a_pid_that_is_another_process_now(project: Project) -> None:
    """Same pid, another start time: pid reuse, not the old attempt."""
    cli, info = running_trainer(project)
    job = int(info["pid"])
    kill_orchestrator_and_watchdog(cli, info)
    journal = sorted((project.root / "summaries").glob("journal_*.jsonl"))[-1]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    for record in records:
        if record["event"] == "attempt_started":
            record["starttime"] = record.get("starttime", 1) - 1
    journal.write_text("".join(json.dumps(r) + "\n" for r in records))
    (project.root / "training/done").write_text("")
    try:
        result = project.run("--resume")
        assert result.returncode == 0, result.stderr
        assert "still running" not in result.stderr + result.stdout
        assert alive(job)
    finally:
        os.killpg(job, signal.SIGKILL)


def attempt_run(project: Project) -> str:
    journals = sorted((project.root / "summaries").glob("journal_*.jsonl"))
    return journals[0].stem.removeprefix("journal_")


#: A job whose daemon leaves its group (setsid) and is orphaned: it becomes the
#: orchestrator's child (it is the subreaper), and the job trains on.
DAEMONIZES = """
import os, pathlib, time
here = pathlib.Path(__file__).parent
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        (here / "daemon.tmp").write_text(str(os.getpid()))
        os.replace(here / "daemon.tmp", here / "daemon.pid")
        time.sleep(60)
    os._exit(0)
os.wait()
time.sleep(60)
"""


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_daemon_of_a_job_is_stopped_once_the_orchestrator_found_it(project: Project) -> None:
    """The orphan checks find it (every ORPHAN_CHECK_EVERY) and tell the watchdog."""
    project.script("training/train_daemons.py", DAEMONIZES)
    project.config("configs/jobs.yaml", "jobs:\n  daemons: {grace: 20}\n")
    cli = start_cli(project)
    pid_file = project.root / "training/daemon.pid"
    wait_until(pid_file.exists, "the daemon starts")
    daemon = int(pid_file.read_text())
    try:
        wait_until(lambda: parent_of(daemon) == cli.pid, "the daemon is re-parented to us")
        # Nothing shows when the watchdog has heard of the daemon's group: give the
        # orphan check (every ORPHAN_CHECK_EVERY) ample time to find it first.
        time.sleep(10 * ORPHAN_CHECK_EVERY)
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
        wait_until(lambda: not alive(daemon), "the daemon ends")
        assert "stopping 2 job group(s)" in (project.root / "cli.err").read_text()
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)


def test_leaving_the_watched_block_with_a_job_running_stops_the_job(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A Ray worker told to stop (SIGTERM, its SIGKILL moments later) unwinds through
    `watching()` with its attempt still running. Saying `bye` then left the job running,
    unwatched, once the SIGKILL came; the watchdog stops it instead, SIGTERM first."""
    job = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        with pytest.raises(SystemExit), watching() as dog:
            assert dog is not None
            dog.started("a", job.pid, 5.0, None)
            raise SystemExit(1)
        assert job.wait(timeout=30) == -signal.SIGTERM
    finally:
        job.kill()
        job.wait()
    assert f"stopping 1 job group(s): {job.pid}" in capfd.readouterr().err
