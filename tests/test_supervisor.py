"""The process supervisor on its own: real children, watched by pidfds or, where the
kernel has none (macOS, Linux < 5.3), by a waiting thread; started by posix_spawn or, where
it cannot do all that is asked, by Popen. Every path behaves the same."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import alive

from orchestrator.execute import spawn as spawning
from orchestrator.execute.ending import CANNOT_START, ProcessEnd
from orchestrator.execute.supervisor import Supervisor


@pytest.fixture(params=["pidfd+posix_spawn", "pidfd+popen", "thread+posix_spawn"])
def supervisor(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Supervisor]:
    watch, how = request.param.split("+")
    if watch == "thread":
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("this platform has no pidfd_open")
    if how == "popen":
        monkeypatch.setattr(spawning, "DIRECT_SPAWN", False)
    elif not spawning.DIRECT_SPAWN:
        pytest.skip("posix_spawn is not used on this platform")
    monkeypatch.chdir(tmp_path)  # jobs run in ".", as the CLI runs them
    watcher = Supervisor()
    yield watcher
    watcher.close()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def start(
    supervisor: Supervisor,
    tmp_path: Path,
    key: str,
    code: str,
    env: dict[str, str] | None = None,
    **kwargs: float,
) -> Path:
    log = tmp_path / f"{key}.log"
    supervisor.start(
        key,
        python(code),
        cwd=".",
        env=env or {},
        log_path=str(log),
        header=f"# {key}",
        **kwargs,  # type: ignore[arg-type]
    )
    return log


def collect(supervisor: Supervisor, count: int) -> list[tuple[str, ProcessEnd]]:
    ended: list[tuple[str, ProcessEnd]] = []
    while len(ended) < count:
        ended += supervisor.wait(30)
    return ended


def only(supervisor: Supervisor) -> ProcessEnd:
    """The outcome of the one child started."""
    [(_, outcome)] = collect(supervisor, 1)
    return outcome


def test_children_are_reported_as_they_end_with_complete_logs(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    for key, seconds in (("slow", 0.6), ("fast", 0.0), ("middle", 0.3)):
        start(supervisor, tmp_path, key, f"import time; time.sleep({seconds}); print('{key} done')")
    ended = collect(supervisor, 3)
    assert [key for key, _ in ended] == ["fast", "middle", "slow"]
    assert all(outcome.exit_code == 0 for _, outcome in ended)
    lines = (tmp_path / "slow.log").read_text().splitlines()
    assert lines[0] == "# slow"
    assert lines[1] == "slow done"
    assert lines[2].startswith("=== exit 0 after ")


def test_timeout_then_grace_then_sigkill(supervisor: Supervisor, tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    log = start(supervisor, tmp_path, "stubborn", code, timeout=0.5, grace=0.3)
    outcome = only(supervisor)
    assert outcome.timed_out and not outcome.cancelled
    assert outcome.signal == signal.SIGKILL
    assert 0.8 <= outcome.duration < 20
    assert log.read_text().splitlines()[-1].startswith("=== timed out after ")


def test_cancel_from_another_thread_stops_a_running_child(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    start(supervisor, tmp_path, "sleeper", "import time; time.sleep(60)")
    threading.Timer(0.3, supervisor.cancel_all).start()
    outcome = only(supervisor)
    assert outcome.cancelled
    assert outcome.signal == signal.SIGTERM
    assert outcome.duration < 20


def test_a_child_started_after_cancel_is_stopped_at_once(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    supervisor.cancel_all()
    assert supervisor.wait(0) == []  # the request is served by the wait
    start(supervisor, tmp_path, "late", "import time; time.sleep(60)")
    outcome = only(supervisor)
    assert outcome.cancelled and outcome.signal == signal.SIGTERM


def test_wake_makes_wait_return_with_nothing(supervisor: Supervisor, tmp_path: Path) -> None:
    start(supervisor, tmp_path, "sleeper", "import time; time.sleep(60)")
    threading.Timer(0.2, supervisor.wake).start()
    assert supervisor.wait(30) == []
    supervisor.kill_all()
    outcome = only(supervisor)
    assert outcome.signal == signal.SIGKILL


def test_a_command_that_cannot_start_is_an_outcome_not_an_exception(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    log = tmp_path / "missing.log"
    supervisor.start(
        "missing", ["/no/such/binary"], cwd=str(tmp_path), env={}, log_path=str(log), header="#"
    )
    [(key, outcome)] = supervisor.wait(0)
    assert (key, outcome.exit_code) == ("missing", CANNOT_START)
    assert "=== cannot start /no/such/binary" in log.read_text()


def test_leftovers_of_a_finished_job_are_killed_with_its_group(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    start(supervisor, tmp_path, "parent", code)
    outcome = only(supervisor)
    assert outcome.exit_code == 0
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)


def test_an_exit_seen_late_is_not_turned_into_a_timeout(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    start(supervisor, tmp_path, "quick", "pass", timeout=0.3)
    time.sleep(0.6)  # the caller was busy past the deadline; the child had long exited
    outcome = only(supervisor)
    assert (outcome.exit_code, outcome.timed_out) == (0, False)


def test_an_exit_before_a_cancel_is_not_turned_into_a_cancellation(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    start(supervisor, tmp_path, "quick", "pass")
    time.sleep(0.3)
    supervisor.cancel_all()
    outcome = only(supervisor)
    assert (outcome.exit_code, outcome.cancelled) == (0, False)


def test_jobs_do_not_inherit_descriptors_we_inherited(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    """A pipe end left open in a job would keep whoever started us from seeing EOF."""
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)  # as a descriptor handed down by our own parent
    spawning.no_inherited_fds.cache_clear()  # once per process, and this one is new to it
    try:
        start(supervisor, tmp_path, "fds", f"import os; os.fstat({write_end})")
        outcome = only(supervisor)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert outcome.exit_code == 1
    assert "Bad file descriptor" in (tmp_path / "fds.log").read_text()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_signals_python_ignores_are_back_to_default_in_jobs(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    """Ignored signals stay ignored across exec: a job's `cmd | head` must end on SIGPIPE."""
    supervisor.start(
        "sigs", ["grep", "SigIgn", "/proc/self/status"], cwd=".", env={},
        log_path=str(tmp_path / "sigs.log"), header="#",
    )  # fmt: skip
    assert only(supervisor).exit_code == 0
    [line] = [x for x in (tmp_path / "sigs.log").read_text().splitlines() if "SigIgn" in x]
    ignored = int(line.split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (sig - 1)), f"{sig.name} is ignored in the job"


def executable(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    (folder / name).chmod(0o755)


def run_on_path(
    supervisor: Supervisor, tmp_path: Path, command: str, *folders: Path
) -> tuple[ProcessEnd, str]:
    """Start `command` by name, with `folders` first on the job's own PATH."""
    path = os.pathsep.join([*map(str, folders), os.environ.get("PATH", os.defpath)])
    log = tmp_path / f"{command}.log"
    supervisor.start(command, [command], cwd=".", env={"PATH": path}, log_path=str(log), header="#")
    return only(supervisor), log.read_text()


def test_a_command_is_looked_up_on_the_jobs_own_path(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    executable(tmp_path / "tools", "say-hello", "#!/bin/sh\necho hello from the tools dir\n")
    outcome, log = run_on_path(supervisor, tmp_path, "say-hello", tmp_path / "tools")
    assert outcome.exit_code == 0
    assert "hello from the tools dir" in log


def test_output_reaches_the_log_when_the_log_is_descriptor_0(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    """Started with stdin closed, we may get fd 0 for a log: stdin must not replace it."""
    saved = os.dup(0)
    os.close(0)
    try:
        log = start(supervisor, tmp_path, "fd0", "print('to the log')")
        outcome = only(supervisor)  # reaped: the log's descriptor 0 is closed again
    finally:
        os.dup2(saved, 0)
        os.close(saved)
    assert outcome.exit_code == 0
    assert "to the log" in log.read_text()


def test_the_path_search_goes_on_past_a_candidate_that_cannot_run(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    """As Popen searches: a stale venv's script first on the PATH does not hide a good one."""
    stale, good = tmp_path / "stale-venv", tmp_path / "good"
    executable(stale, "trainer", "#!/no/such/python\n")
    executable(good, "trainer", "#!/bin/sh\necho good one\n")
    outcome, log = run_on_path(supervisor, tmp_path, "trainer", stale, good)
    assert outcome.exit_code == 0
    assert "good one" in log


def test_without_proc_jobs_still_start(
    supervisor: Supervisor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a sandbox with no /proc our descriptors cannot be listed: Popen starts the job."""
    monkeypatch.setattr(spawning, "_FD_DIR", tmp_path / "no-proc")
    spawning.no_inherited_fds.cache_clear()
    try:
        start(supervisor, tmp_path, "sandboxed", "raise SystemExit(4)")
        assert only(supervisor).exit_code == 4
    finally:
        spawning.no_inherited_fds.cache_clear()


@pytest.mark.parametrize("direct_spawn", [True, False], ids=["posix_spawn", "popen"])
def test_exit_status_is_kept_when_we_were_started_with_sigchld_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_spawn: bool
) -> None:
    """SIG_IGN survives exec, and with it the kernel reaps children itself."""
    monkeypatch.setattr(spawning, "DIRECT_SPAWN", direct_spawn and spawning.DIRECT_SPAWN)
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        watcher = Supervisor()
        try:
            start(watcher, tmp_path, "three", "raise SystemExit(3)")
            assert only(watcher).exit_code == 3
        finally:
            watcher.close()
        assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN  # as it was given to us
    finally:
        signal.signal(signal.SIGCHLD, previous)


def test_a_late_wake_after_close_is_harmless(tmp_path: Path) -> None:
    watcher = Supervisor()
    watcher.close()
    watcher.wake()  # a signal handler may still fire while the summary is written
