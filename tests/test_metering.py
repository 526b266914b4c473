"""Measuring what an attempt used: the parsers as values, then real jobs of known size.

The jobs allocate and touch 300 MB across two processes held at the same time, and burn
a known CPU time; each is measured as the supervisor does it (metering.py), once with
the cgroups this host allows and once with sampling forced.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.execute.cgroup_counters import parse_flat_keyed
from orchestrator.execute.cgroups import JobCgroups
from orchestrator.execute.gpu_usage import parse_compute_apps
from orchestrator.execute.memory_cgroups import MemoryCgroups, own_v1_memory_cgroup
from orchestrator.execute.metering import Metering
from orchestrator.execute.tree_sampler import Schedule, parse_io, parse_pss, parse_stat
from orchestrator.report.resources import usage_over
from orchestrator.usage import Usage, mean_cpu_percent

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
MB = 1_000_000

#: Two processes: the parent holds 200 MB, its child 100 MB, both at once for over a
#: second (longer than the sampler's longest wait); each burns 0.5 s of CPU. Each writes
#: the CPU time it used, as the process itself counts it (the figure to compare with).
TWO_PROCESSES = """
import os, subprocess, sys, time
out = sys.argv[1]
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
if sys.argv[2:] == ["child"]:
    held = bytearray(b"x") * 100_000_000
    burn(0.5)
    open(out + ".child", "w").write(str(time.process_time()))
    time.sleep(1.5)
else:
    held = bytearray(b"x") * 200_000_000
    child = subprocess.Popen([sys.executable, __file__, out, "child"])
    burn(0.5)
    child.wait()
    own = time.process_time()
    open(out, "w").write(str(own + float(open(out + ".child").read())))
"""


# ------------------------------------------------------------------------ as values
def test_stat_line_gives_parent_start_and_cpu_with_reaped_children() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = ["S", "41", *["0"] * 4, "64", *["0"] * 4, str(ticks), str(2 * ticks), str(ticks)]
    fields += ["0"] * 5 + ["777"]
    parsed = parse_stat(b"42 (a) b) " + " ".join(fields).encode())
    assert parsed == (41, 777, 4.0, "S", True)  # flags 64: forked, no exec since
    assert parse_stat(b"garbage") is None


def test_io_pss_and_keyed_files() -> None:
    io = b"rchar: 9\nwchar: 9\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"
    assert parse_io(io) == (4096, 8192)
    assert parse_pss(b"55550000-7ffd rw-p 0 00:00 0 [rollup]\nRss: 10 kB\nPss: 7 kB\n") == 7168
    assert parse_pss(b"") == 0
    oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    assert parse_flat_keyed(oom_control) == {"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 2}


def test_nvidia_smi_lines_add_up_per_pid() -> None:
    text = "123, 512\n456, 100\n123, 512\n[Not Supported]\n"
    assert parse_compute_apps(text) == {123: 1024 << 20, 456: 100 << 20}


def test_schedule_looks_often_first_then_rarely_and_never_costlier_than_its_share() -> None:
    schedule = Schedule(now=0.0)
    waits, now = [], 0.0
    for _ in range(12):
        now = schedule.due
        schedule.looked(now, cost=0.0)
        waits.append(round(schedule.due - now, 3))
    assert waits[0] > Schedule.FIRST and waits[-1] == Schedule.LAST
    assert waits == sorted(waits)
    assert schedule.longest == pytest.approx(Schedule.LAST)
    schedule.looked(now, cost=Schedule.ALLOWANCE)  # the allowance is spent: no wait yet
    assert schedule.due == now + Schedule.LAST
    schedule.looked(now, cost=0.1)  # 100 ms more is paid off 100 s after the start
    assert schedule.due == pytest.approx(0.1 * Schedule.COST_RATIO)


def test_mean_cpu_percent() -> None:
    assert mean_cpu_percent(3.0, 2.0) == 150.0
    assert mean_cpu_percent(None, 2.0) is None
    assert mean_cpu_percent(1.0, 0.0) is None


# -------------------------------------------------------------------- real processes
def _measure(argv: list[str], *, cgroups: bool, limit: int | None = None) -> tuple[int, Usage]:
    """Run argv as the supervisor runs a job (in its cgroups, where there are), stopping
    it when the sampler finds it over `limit`; its wait status and usage."""
    with _metered(cgroups) as (job_cgroups, metering):
        return _measure_in(argv, job_cgroups, metering, limit)


@contextlib.contextmanager
def _metered(cgroups: bool) -> Iterator[tuple[JobCgroups | None, Metering]]:
    """A run's cgroups (with `cgroups`) and metering, closed after."""
    job_cgroups = JobCgroups.make() if cgroups else None
    metering = Metering.make(cgroups=cgroups)
    assert metering is not None
    try:
        yield job_cgroups, metering
    finally:
        metering.close()
        if job_cgroups is not None:
            job_cgroups.close()


def _skip_without_a_v1_memory_cgroup() -> None:
    probe = MemoryCgroups.make()
    if probe is None:
        pytest.skip("no v1 memory cgroup of ours to write here")
    probe.close()


def _measure_in(
    argv: list[str],
    job_cgroups: JobCgroups | None,
    metering: Metering,
    limit: int | None = None,
    wall_s: float | None = None,
) -> tuple[int, Usage]:
    """One job measured in a run's cgroups and metering, which the caller owns (`wall_s`:
    the wall time to divide by, instead of the one measured)."""
    cgroup = job_cgroups.enter(1) if job_cgroups else None
    with metering.spawning(limit) as slot:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ))
    if job_cgroups and cgroup:
        job_cgroups.leave(cgroup)
    started = time.monotonic()
    metering.begin("job", pid, cgroup=cgroup and str(cgroup), slot=slot, limit=limit)
    while True:
        done, status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        due = metering.due()
        if due is not None and time.monotonic() >= due and metering.look(time.monotonic()):
            os.kill(pid, 9)
        time.sleep(0.005)
    usage = metering.end("job", rusage, wall_s or time.monotonic() - started)
    assert usage is not None
    return status, usage


@linux
def test_a_millisecond_jobs_cpu_percent_reads_the_same_in_every_report(cgroups: bool) -> None:
    """The reports work the percent out again from cpu_s and the wall time; for a job of
    about a millisecond that must not turn 40 % into 100 %."""
    for _ in range(5):
        with _metered(cgroups) as (job_cgroups, metering):
            _, usage = _measure_in(["/bin/true"], job_cgroups, metering, wall_s=0.0013)
        assert usage.cpu_s is not None and usage.mean_cpu_percent is not None
        reported = usage_over([(0.0013, usage)]).cpu_percent
        assert reported == pytest.approx(usage.mean_cpu_percent, abs=0.1)


def test_a_job_too_small_for_the_memory_counter_has_no_peak_rather_than_0_b() -> None:
    """/bin/true charges a page or two, below the kernel's per-CPU charge batches: its
    cgroup's counter often does not move. That is no figure, not a peak of 0 B."""
    _skip_without_a_v1_memory_cgroup()
    with _metered(True) as (job_cgroups, metering):
        peaks = [_measure_in(["/bin/true"], job_cgroups, metering)[1] for _ in range(20)]
    assert [u.method for u in peaks] == ["cgroup-v1"] * 20
    assert 0 not in [u.peak_memory_bytes for u in peaks]


def test_a_cgroup_used_again_measures_its_next_job_afresh(tmp_path: Path) -> None:
    """Each run keeps its cgroups' files open across jobs: a later job in the same cgroup
    is measured from its own start, and nothing of the run's stays open after it."""
    _skip_without_a_v1_memory_cgroup()
    touch = "import sys; b = bytearray(int(sys.argv[1])); b[::4096] = b'1' * len(b[::4096])"
    with _metered(True) as (job_cgroups, metering):
        peaks = [
            _measure_in([sys.executable, "-c", touch, str(size)], job_cgroups, metering)[1]
            for size in (200 * MB, 40 * MB, 200 * MB)
        ]
    assert [u.method for u in peaks] == ["cgroup-v1"] * 3
    big, small, big_again = (u.peak_memory_bytes or 0 for u in peaks)
    assert small < 0.5 * big and big_again > 0.9 * big
    cgroupfs = [
        link
        for fd in Path("/proc/self/fd").iterdir()
        if (link := os.path.realpath(fd)).startswith("/sys/fs/cgroup")
    ]
    assert cgroupfs == []


@linux
def test_whole_tree_cpu_and_peak_memory_within_ten_percent(tmp_path: Path, cgroups: bool) -> None:
    script = tmp_path / "job.py"
    script.write_text(TWO_PROCESSES)
    status, usage = _measure([sys.executable, str(script), str(tmp_path / "cpu")], cgroups=cgroups)
    assert status == 0
    assert usage.method == ("cgroup-v1" if cgroups else "sampled")
    known_cpu = float((tmp_path / "cpu").read_text())
    assert usage.cpu_s == pytest.approx(known_cpu, rel=0.1)
    assert usage.peak_memory_bytes == pytest.approx(300 * MB, rel=0.1)
    assert not usage.oom_killed
    assert (usage.sample_interval_s is None) == cgroups


@linux
def test_a_job_over_its_memory_limit_is_killed_and_says_so(tmp_path: Path, cgroups: bool) -> None:
    argv = [
        sys.executable,
        "-c",
        "held = bytearray(b'x') * 300_000_000; import time; time.sleep(5)",
    ]
    status, usage = _measure(argv, cgroups=cgroups, limit=150 * MB)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
    assert usage.oom_killed
    assert usage.peak_memory_bytes is not None
    if cgroups:  # the kernel stops it at its limit
        assert usage.peak_memory_bytes == pytest.approx(150 * MB, rel=0.05)
    else:  # seen over it
        assert usage.peak_memory_bytes > 150 * MB


@linux
def test_gpu_memory_of_the_jobs_processes_from_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake nvidia-smi lists the job's pid (from a file the job writes) with 2 GiB,
    and another process's with 5 GiB, which is not the job's."""
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "1, 5120"\ncat {tmp_path}/apps 2>/dev/null\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    apps = str(tmp_path / "apps")
    job = f"import os, time; open({apps!r}, 'w').write(f'{{os.getpid()}}, 2048'); time.sleep(2.5)"
    status, usage = _measure([sys.executable, "-c", job], cgroups=False)
    assert status == 0
    assert usage.gpu_peak_memory_bytes == 2048 << 20


def test_without_proc_only_the_leaders_rusage_counts_and_says_so() -> None:
    """Off Linux (no /proc, no cgroups) the usage is the leader's CPU, method `none`."""
    metering = Metering(None, None, procfs=False)
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    pid = os.posix_spawn(sys.executable, [sys.executable, "-c", burn], dict(os.environ))
    metering.begin("job", pid, cgroup=None, slot=None, limit=None)
    assert metering.due() is None  # nothing to sample
    _, _, rusage = os.wait4(pid, 0)
    usage = metering.end("job", rusage, 1.0)
    assert usage is not None
    assert usage.method == "none"
    assert usage.cpu_s is not None and usage.cpu_s >= 0.3
    assert (usage.peak_memory_bytes, usage.read_bytes, usage.write_bytes) == (None, None, None)


@linux
def test_memory_cgroups_of_a_dead_orchestrator_are_removed_at_the_next_start() -> None:
    """An orchestrator SIGKILLed with its watchdog leaves its empty cgroups behind."""
    _skip_without_a_v1_memory_cgroup()
    home = own_v1_memory_cgroup()
    assert home is not None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no process has now
    stale = home / f"train-orch.{dead.pid}" / "slot-1"
    stale.mkdir(parents=True)
    made = MemoryCgroups.make()
    assert made is not None
    made.close()
    assert not stale.parent.exists()
    assert not (home / f"train-orch.{os.getpid()}").exists()  # and ours went at close


@linux
def test_a_small_job_is_not_given_the_orchestrators_own_peak(tmp_path: Path) -> None:
    """posix_spawn (vfork) hands the spawner's RSS high-water mark to the job as its
    ru_maxrss at exec: a tiny job spawned by a big orchestrator is still tiny."""
    ballast = bytearray(b"x") * (400 * MB)  # this process's peak, far above the job's
    script = "held = bytearray(b'x') * 20_000_000; import time; time.sleep(0.5)"
    status, usage = _measure([sys.executable, "-c", script], cgroups=False)
    assert status == 0 and len(ballast) == 400 * MB
    assert usage.peak_memory_bytes is not None  # sampled while it slept
    assert 20 * MB <= usage.peak_memory_bytes < 100 * MB
