"""What running jobs use, in the live view (issue 19, Show): the read-out as values, the
view rendered to a string from a fake event stream, the scheduler asking only when a view
shows it, then real processes of known size: metered in-process, and once end to end in
a real terminal (a pty)."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from conftest import SHIM, Project
from rich.console import Console

from orchestrator.events import AttemptStarted, Event, JobFinished, UsageRead
from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.metering import Metering
from orchestrator.execute.scheduler import Scheduler
from orchestrator.models import Attempt, JobResult, JobSpec, PlannedJob, RunOptions, Status
from orchestrator.plan import build_plan
from orchestrator.report.live import ConsoleReporter, LiveView
from orchestrator.report.usage_now import UsageNow, cpu_percent
from orchestrator.usage import Usage, UsageSoFar

MIB = 1 << 20
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def plan_of(*ids: str) -> tuple[PlannedJob, ...]:
    specs = [JobSpec(id=job_id, command=("true",)) for job_id in ids]
    return build_plan(specs, RunOptions(), python="py", cpu_count=2, inherited_env={}).jobs


# ------------------------------------------------------------------------ as values
def test_cpu_percent_is_the_change_between_readings_else_the_mean_so_far() -> None:
    first = UsageSoFar(2.0, cpu_s=1.0, memory_bytes=MIB)
    assert cpu_percent(None, first) == 50.0  # no reading before: over its life so far
    assert cpu_percent(first, UsageSoFar(3.0, cpu_s=2.5)) == 150.0  # 1.5 s in 1 s
    # A new attempt (its clock went back) starts again from its own mean.
    assert cpu_percent(first, UsageSoFar(0.5, cpu_s=0.1)) == pytest.approx(20.0)
    assert cpu_percent(first, UsageSoFar(3.0)) is None  # CPU not measured
    # Over too short a time a starting process reads as hundreds of percent: no figure.
    assert cpu_percent(None, UsageSoFar(0.03, cpu_s=0.08)) is None
    assert cpu_percent(first, UsageSoFar(2.2, cpu_s=1.1)) is None


def test_a_job_not_looked_at_since_keeps_its_figures_and_percent() -> None:
    usage = UsageNow()

    def read(wall: float, cpu: float, mib: int) -> None:
        figures = UsageSoFar(wall, cpu_s=cpu, memory_bytes=mib * MIB)
        usage.read(UsageRead((("a", figures),), 0.0))

    read(0.03, 0.08, 5)  # just started: memory, but no percent yet
    assert usage.cells("a") == ("5.0 MiB", "")
    read(1.03, 0.58, 300)  # the percent is over the second since, not the start-up
    assert usage.cells("a") == ("300 MiB", "50%")
    # The sampler has not looked since: same figures, same time; not 0 % (0 s / 0 s).
    read(1.03, 0.58, 300)
    assert usage.cells("a") == ("300 MiB", "50%")
    read(1.23, 0.78, 310)  # too soon for a new percent: the last one stands
    assert usage.cells("a") == ("310 MiB", "50%")
    read(2.03, 1.58, 310)  # a second since the percent's reading
    assert usage.cells("a") == ("310 MiB", "100%")
    read(0.6, 0.6, 20)  # a retry under the same id: its own mean, nothing carried over
    assert usage.cells("a") == ("20 MiB", "100%")
    usage.forget("a")
    assert usage.cells("a") == ("", "")
    assert not usage


def _rendered(view: LiveView, width: int = 100) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(view._render())
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_the_live_view_shows_each_running_jobs_memory_and_cpu(tmp_path: Path) -> None:
    plan = build_plan(
        [JobSpec(id="train", command=("true",)), JobSpec(id="prep", command=("true",))],
        RunOptions(output_root=str(tmp_path)),
        python="py",
        cpu_count=2,
        inherited_env={},
    )
    view = LiveView(Console(file=io.StringIO()), plan, time.time())
    for job in plan.jobs:
        view.started(AttemptStarted(job, 1, 1, time.time()))
    # Before any read-out: no figure columns at all, nothing made up.
    assert all("MiB" not in line and "%" not in line for line in _rendered(view)[1:])
    view.usage.read(
        UsageRead(
            (
                ("train", UsageSoFar(4.0, cpu_s=3.9, memory_bytes=412 * MIB)),
                ("prep", UsageSoFar(4.0, cpu_s=None, memory_bytes=None)),
            ),
            time.time(),
        )
    )
    rows = _rendered(view)[1:]
    train_row = next(r for r in rows if r.lstrip().startswith("train"))
    prep_row = next(r for r in rows if r.lstrip().startswith("prep"))
    assert re.search(r"train\s+00:0\d\s+412 MiB\s+98%", train_row), train_row
    assert "MiB" not in prep_row and "%" not in prep_row  # nothing measured: blank, not 0
    # A job that ended leaves the view and its figures with it.
    view.finished(JobResult(plan.jobs[0], Status.SUCCEEDED, ()))
    assert all("train" not in line for line in _rendered(view))


def test_the_view_fits_a_narrow_terminal(tmp_path: Path) -> None:
    plan = build_plan(
        [JobSpec(id="a_rather_long_job_name_indeed", command=("true",))],
        RunOptions(output_root=str(tmp_path)),
        python="py",
        cpu_count=2,
        inherited_env={},
    )
    view = LiveView(Console(file=io.StringIO()), plan, time.time())
    view.started(AttemptStarted(plan.jobs[0], 1, 1, time.time()))
    figures = UsageSoFar(4.0, cpu_s=4.0, memory_bytes=2 * 1024 * MIB)
    view.usage.read(UsageRead((("a_rather_long_job_name_indeed", figures),), time.time()))
    lines = _rendered(view, width=40)
    assert all(len(line) <= 40 for line in lines), lines
    assert any("2.0 GiB" in line for line in lines), lines


def _finished_line(plain: bool, usage: Usage | None, job: PlannedJob) -> str:
    reporter = ConsoleReporter(0)
    out = io.StringIO()
    reporter.console = Console(file=out, width=120, color_system=None)
    reporter.plain = plain
    attempt = Attempt(1, 0.0, 4.0, Status.SUCCEEDED, exit_code=0, usage=usage)
    reporter.emit(JobFinished(JobResult(job, Status.SUCCEEDED, (attempt,))))
    return out.getvalue().rstrip()


def test_an_ended_jobs_line_has_its_peak_and_cpu_as_the_final_table_does() -> None:
    (job,) = plan_of("train")
    usage = Usage("cgroup-v1", cpu_s=3.9, peak_memory_bytes=212 * MIB)
    plain = _finished_line(True, usage, job)
    assert plain.split(maxsplit=1)[1] == "done   train succeeded 4.0s (peak 212 MiB, cpu 98%)"
    assert _finished_line(True, None, job).endswith("done   train succeeded 4.0s")
    terminal = _finished_line(False, usage, job)
    assert re.fullmatch(r"✔ train\s+4\.0s\s+212 MiB\s+98%", terminal), terminal


def test_only_a_live_view_asks_for_running_figures() -> None:
    assert ConsoleReporter(0).usage_every is None  # pytest's stdout is not a terminal
    watched = ConsoleReporter(0)
    watched.plain = False
    assert watched.usage_every == 1.0
    quiet = ConsoleReporter(-1)
    quiet.plain = False
    assert quiet.usage_every is None
    dumb = ConsoleReporter(0)  # rich draws no live view on TERM=dumb
    dumb.plain = False
    dumb.console = Console(file=io.StringIO(), force_terminal=True, _environ={"TERM": "dumb"})
    assert dumb.usage_every is None


class _SlowBackend:
    """Each attempt ends after the scheduler has waited on it `turns` times; counts how
    often it was asked what its attempts use."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.running: dict[str, int] = {}
        self.asked = 0

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None:
        self.running[job.id] = 0

    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]:
        for job_id in self.running:
            self.running[job_id] += 1
        ended = [j for j, waited in self.running.items() if waited > self.turns]
        for job_id in ended:
            del self.running[job_id]
        return [(job_id, ProcessEnd(0, None, 0.0, 0.1)) for job_id in ended]

    def usage_so_far(self) -> Mapping[str, UsageSoFar]:
        self.asked += 1
        return {job_id: UsageSoFar(float(n), cpu_s=0.5 * n) for job_id, n in self.running.items()}

    def wake(self) -> None: ...
    def stop(self, key: str) -> None: ...
    def cancel_all(self) -> None: ...
    def kill_all(self) -> None: ...
    def close(self) -> None: ...


class _Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.parametrize("every", [None, 0.0])
def test_the_scheduler_reads_usage_only_when_asked(tmp_path: Path, every: float | None) -> None:
    plan = build_plan(
        [JobSpec(id="a", command=("true",))],
        RunOptions(output_root=str(tmp_path)),
        python="py",
        cpu_count=2,
        inherited_env={},
    )
    (tmp_path / "logs").mkdir()  # the run makes it before the scheduler starts
    backend, sink = _SlowBackend(turns=3), _Recorder()
    outcome = Scheduler(plan, sink, backend=backend, usage_every=every).run()
    assert [r.status for r in outcome.results] == [Status.SUCCEEDED]
    reads = [e for e in sink.events if isinstance(e, UsageRead)]
    if every is None:
        assert backend.asked == 0
        assert reads == []
    else:
        assert backend.asked >= 3
        assert [dict(e.running)["a"].cpu_s for e in reads][:3] == [0.5, 1.0, 1.5]
        # Told between the start and the end of the job, never after it.
        kinds = [type(e).__name__ for e in sink.events]
        assert kinds.index("AttemptStarted") < kinds.index("UsageRead")
        assert max(i for i, k in enumerate(kinds) if k == "UsageRead") < kinds.index("AttemptEnded")


# -------------------------------------------------------------------- real processes
#: Holds `sys.argv[1]` MiB, every page touched, and burns CPU until the file `argv[2]`
#: appears (what the test waits on is the figure, not a time).
HOLDER = """
import os, sys, time
held = bytearray(int(sys.argv[1]) << 20)
for i in range(0, len(held), 4096):
    held[i] = 1
print("holding", flush=True)
while not os.path.exists(sys.argv[2]):
    sum(range(10000))
"""


@linux
def test_a_running_jobs_figures_are_read_as_its_summary_will_be(
    tmp_path: Path, cgroups: bool
) -> None:
    script, go = tmp_path / "hold.py", tmp_path / "go"
    script.write_text(HOLDER)
    metering = Metering.make(cgroups=cgroups)
    assert metering is not None
    argv = [sys.executable, str(script), "150", str(go)]
    try:
        with metering.spawning(None) as slot:
            pid = os.posix_spawn(argv[0], argv, dict(os.environ))
        metering.begin("job", pid, cgroup=None, slot=slot, limit=None)
        deadline = time.monotonic() + 60
        now = UsageSoFar(0.0)
        while time.monotonic() < deadline:  # a bound on failure, not a speed
            due = metering.due()
            if due is not None and time.monotonic() >= due:
                metering.look(time.monotonic())
            now = metering.so_far()["job"]
            if (now.memory_bytes or 0) >= 150 * MIB:
                break
            time.sleep(0.01)
        go.touch()
        os.waitpid(pid, 0)
    finally:
        metering.close()
    assert now.memory_bytes == pytest.approx(160 * MIB, rel=0.1)  # the interpreter too
    assert now.peak_memory_bytes is not None and now.peak_memory_bytes >= now.memory_bytes
    assert now.cpu_s is not None and 0 < now.cpu_s <= now.wall_s * os.cpu_count()


def _read_until(fd: int, done: re.Pattern[str], seconds: float) -> str:
    """What the terminal showed, ANSI codes removed, up to the first match of `done`."""
    seen, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            seen += chunk
            text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
            if done.search(text):
                return text
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))


@linux
def test_a_terminal_shows_a_running_jobs_memory_then_its_peak(project: Project) -> None:
    go = project.root / "go"
    project.script("hold.py", HOLDER)
    project.config(
        "configs/jobs.yaml",
        f"jobs:\n  hold:\n    command: [{sys.executable}, hold.py, '200', {go}]\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    env.update(TERM="xterm", COLUMNS="100", LINES="30")
    leader, follower = os.openpty()
    child = subprocess.Popen(
        [sys.executable, str(SHIM), "--no-auto-discover"],
        cwd=project.root,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    try:
        running = re.compile(r"hold\s+\d\d:\d\d\s+(\d+) MiB\s+(\d+)%")
        shown = _read_until(leader, running, 60)
        match = running.search(shown)
        assert match, shown[-2000:]
        go.touch()
        ended = re.compile(r"✔ hold\s+[\d.]+s\s+(\d+) MiB\s+(\d+)%")
        rest = _read_until(leader, re.compile(r"exit 0"), 60)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(leader)
    assert 200 <= int(match[1]) <= 240  # 200 MiB touched, plus the interpreter
    final = ended.search(rest)
    assert final, rest[-2000:]
    assert int(final[1]) >= int(match[1])
    peak = project.jobs()["hold"]["attempts"][0]["usage"]["peak_memory_bytes"]
    assert int(final[1]) == round(peak / MIB)
    # The read-outs are the view's: the journal (every line JSON) has none of them.
    events = [record["event"] for record in project.journal()]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert not any("usage" in event for event in events)


def test_the_final_table_keeps_figures_whole_on_a_narrow_terminal() -> None:
    from orchestrator.events import RunFinished
    from orchestrator.report.final_table import final_table

    jobs = plan_of("fork50", "a_job_with_a_really_quite_long_name")
    usage = Usage("cgroup-v1", cpu_s=4.2, peak_memory_bytes=548 * MIB)
    attempt = Attempt(1, 0.0, 4.2, Status.SUCCEEDED, exit_code=0, usage=usage)
    results = tuple(JobResult(job, Status.SUCCEEDED, (attempt,)) for job in jobs)
    out = io.StringIO()
    final_table(
        Console(file=out, width=40, color_system=None), RunFinished(results, 0, 0.0, 5.0, None)
    )
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 40 for line in lines), lines
    rows = [line for line in lines if "MiB" in line]
    assert len(rows) == 2 and all(re.search(r" 4\.2s\s+548 MiB\s+100% ", r) for r in rows), lines
