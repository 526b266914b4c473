"""Nothing outlives its job attempt, even a daemon that hides (issue 16, point 10).

The daemons here do all a daemon can to leave: fork twice, setsid(), and exec with an
empty environment, so neither the job's process group nor TRAIN_ORCH_JOB_ID leads to
them. Each test runs twice: with a cgroup per attempt where this machine lets us make
one (cgroup v2), and with `TRAIN_ORCH_CGROUP=off`, which forces the process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHIM, Project

from orchestrator.execute.cgroups import own_v2_cgroup, v2_mount


def _cgroups_here() -> bool:
    """Whether an orchestrator started from here can make cgroups (as descendants.py
    tries it: a directory below our own v2 cgroup)."""
    home = own_v2_cgroup()
    if home is None:
        return False
    probe = home / f"train-orch-test.{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return (home / "cgroup.procs").exists()


@pytest.fixture(params=["cgroup-v2", "process-tree"])
def containment(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that selects each way of finding descendants."""
    if request.param == "cgroup-v2":
        if not _cgroups_here():
            pytest.skip("no writable cgroup v2 hierarchy on this machine")
        return {}
    return {"TRAIN_ORCH_CGROUP": "off"}


#: `daemon(name)`: a grandchild in a session of its own, with no environment at all,
#: whose pid is in the file `name` once it runs.
HIDING_DAEMON = """
import os, pathlib, sys, time
def daemon(name):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            pathlib.Path(name + '.tmp').write_text(str(os.getpid()))
            os.replace(name + '.tmp', name)
            os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)'], {})
        os._exit(0)
    os.wait()
    while not pathlib.Path(name).exists():
        time.sleep(0.01)
    return int(pathlib.Path(name).read_text())

def running(pid):
    try:
        state = pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone, or going as we read
        return False
    return state != 'Z'

def gone_soon(pid):
    deadline = time.monotonic() + 2
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not running(pid)

pathlib.Path('cgroup.txt').write_text(pathlib.Path('/proc/self/cgroup').read_text())
"""


def _running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def _kill(pid_file: Path) -> None:
    """Clean up after a failed test: the daemon must not outlive the suite either."""
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _check_containment(project: Project, containment: dict[str, str]) -> None:
    """The job ran in a cgroup of the run's exactly when one was to be used, and the
    run's cgroups are gone with it."""
    line = (project.root / "cgroup.txt").read_text().splitlines()[-1]
    assert ("/train-orch." in line) == (not containment)
    if not containment:
        mount = v2_mount()
        assert mount is not None
        slot = mount / line.removeprefix("0::/")
        assert not slot.parent.exists(), f"{slot.parent} outlived its run"


def test_a_hidden_daemon_of_attempt_1_is_gone_when_attempt_2_starts(
    project: Project, containment: dict[str, str]
) -> None:
    project.script(
        "training/train_flaky.py",
        HIDING_DAEMON
        + """
marker = pathlib.Path('daemon.pid')
if not marker.exists():
    daemon('daemon.pid')
    sys.exit('attempt 1 fails, leaving its daemon behind')
if not gone_soon(int(marker.read_text())):
    sys.exit('the daemon of attempt 1 is still running in attempt 2')
print('attempt 2: nothing of attempt 1 is left')
""",
    )
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          flaky:
            retries: 1
            retry_delay: 0
        """,
    )
    try:
        result = project.run(env=containment)
    finally:
        _kill(project.root / "daemon.pid")
    log = (project.root / "logs/flaky.log").read_text()
    assert result.returncode == 0, log
    assert "nothing of attempt 1 is left" in log
    assert len(project.jobs()["flaky"]["attempts"]) == 2
    _check_containment(project, containment)


def test_a_daemon_forked_by_a_shell_in_an_instant_dies_with_its_job(
    project: Project, containment: dict[str, str]
) -> None:
    """Forked, detached and stripped of its environment by `env -i setsid` in one go: a
    look at the process tree may never have seen it as the job's; its start time tells.
    (The shell waits a moment, so the daemon has left the job's group before the job ends.)"""
    project.script(
        "training/train_after.py",
        HIDING_DAEMON
        + """
pid = int(pathlib.Path('shell-daemon.pid').read_text())
if not gone_soon(pid):
    sys.exit('the daemon of job shell outlived it')
print('the daemon of job shell is gone')
""",
    )
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          shell:
            command: [sh, -c, "env -i setsid sleep 300 & echo $! > shell-daemon.pid; sleep 0.3"]
          after:
            needs: [shell]
        """,
    )
    try:
        result = project.run(env=containment)
    finally:
        _kill(project.root / "shell-daemon.pid")
    log = (project.root / "logs/after.log").read_text()
    assert result.returncode == 0, log
    assert "the daemon of job shell is gone" in log


def test_a_hidden_daemon_dies_with_a_killed_orchestrator(project: Project) -> None:
    """SIGKILL the orchestrator before any orphan check could see the daemon: the
    watchdog kills the attempt's cgroup, and the daemon with it."""
    if not _cgroups_here():
        pytest.skip("no writable cgroup v2 hierarchy on this machine")
    project.script(
        "training/train_hider.py",
        HIDING_DAEMON + "daemon('daemon.pid')\ntime.sleep(120)\n",
    )
    daemon_pid = project.root / "daemon.pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    cli = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not daemon_pid.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = int(daemon_pid.read_text())
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid), "the daemon outlived its killed orchestrator"
    finally:
        cli.kill()
        _kill(daemon_pid)
