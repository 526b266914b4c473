"""The process supervisor on its own: real children, watched by pidfds or, where the
kernel has none (macOS, Linux < 5.3), by a waiting thread; both paths behave the same."""

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

from orchestrator.execute.process import CANNOT_START, ProcessOutcome, Supervisor


@pytest.fixture(params=["pidfd", "thread"])
def supervisor(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Supervisor]:
    if request.param == "thread":
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("this platform has no pidfd_open")
    watcher = Supervisor()
    yield watcher
    watcher.close()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def start(supervisor: Supervisor, tmp_path: Path, key: str, code: str, **kwargs: float) -> Path:
    log = tmp_path / f"{key}.log"
    supervisor.start(
        key,
        python(code),
        cwd=str(tmp_path),
        env={},
        log_path=str(log),
        header=f"# {key}",
        **kwargs,  # type: ignore[arg-type]
    )
    return log


def collect(supervisor: Supervisor, count: int) -> list[tuple[str, ProcessOutcome]]:
    ended: list[tuple[str, ProcessOutcome]] = []
    while len(ended) < count:
        ended += supervisor.wait(30)
    return ended


def only(supervisor: Supervisor) -> ProcessOutcome:
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


def test_a_late_wake_after_close_is_harmless(tmp_path: Path) -> None:
    watcher = Supervisor()
    watcher.close()
    watcher.wake()  # a signal handler may still fire while the summary is written
