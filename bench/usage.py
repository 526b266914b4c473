"""Benchmark ``usage``: what measuring each job's resources costs, and how exact it is.

Cost, per job: N ``/bin/true`` command jobs (300; ``--quick``: 60) in a temp project,
``-q --no-auto-discover``, interleaved over rounds (5; ``--quick``: 2), four ways:

* ``measured``          the default: each attempt in a v2 cgroup (CPU) and a v1 memory
                        cgroup (peak, OOM kills), where this host has them;
* ``not measured``      the same with ``TRAIN_ORCH_USAGE=off``;
* ``measured, sampled`` ``TRAIN_ORCH_CGROUP=off``: the processes sampled from /proc;
* ``not measured, no cgroup``  both off.

Per round: the orchestrator's CPU time (user + system of it and its jobs, from
``RUSAGE_CHILDREN``; the jobs are the same each way) and wall time, as
``(measured - not measured) / N`` in ms per job, each against the way with the same
cgroup setting.

Cost, while jobs run: 8 processes holding 50 MB each and sleeping (12 s; ``--quick``: 4 s)
sampled in this process as the supervisor samples them (``Metering`` with sampling
forced, looking when a look is due); the looks' CPU time over the wall time, in percent
of one core. Target: under 1 %.

Cost of the live view's read-out (what each running job uses now, once a second while a
terminal shows the view): ``Metering.so_far`` over 8 running jobs, repeated (500;
``--quick``: 50), with cgroups and sampled; its CPU as a share of one core at one
read-out a second. Target: under 1 %.

Accuracy against ``/usr/bin/time -v`` on the same job, run by the orchestrator (both
ways) and by ``time``:

* CPU: two processes, each burning 0.5 s of CPU (user + system time compared);
* memory: one process touching 200 MB (``time`` reports the largest single process's
  maximum RSS, not the tree's, so it is compared on a single process only).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "usage"
TITLE = "measuring each job's CPU, memory and I/O: its cost, and its accuracy vs /usr/bin/time"
FLAGS = ("-q", "--no-auto-discover")
TARGET_SHARE = 1.0
WAYS = {
    "measured": {},
    "not measured": {"TRAIN_ORCH_USAGE": "off"},
    "measured, sampled": {"TRAIN_ORCH_CGROUP": "off"},
    "not measured, no cgroup": {"TRAIN_ORCH_CGROUP": "off", "TRAIN_ORCH_USAGE": "off"},
}
#: Each measured way, and the way that differs from it only by measuring nothing (without
#: a cgroup, finding a job's descendants costs less, whether or not it is measured).
AGAINST = {"measured": "not measured", "measured, sampled": "not measured, no cgroup"}

BURN = """
import subprocess, sys, time
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
if sys.argv[1:] != ["child"]:
    subprocess.run([sys.executable, __file__, "child"], check=True)
"""
#: Seconds between the live view's read-outs (report/live.py's USAGE_EVERY).
LIVE_EVERY = 1.0
HOLD = "held = bytearray(b'x') * 200_000_000\nimport time; time.sleep(1.5)\n"
SLEEPER = "held = bytearray(b'x') * 50_000_000\nimport time; time.sleep({seconds})\n"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_way(
    argv: list[str], project: Path, n_jobs: int, env: dict[str, str], cpu: list[float]
) -> str | None:
    """One run, its CPU time (it and its jobs) appended to `cpu`."""
    c.clean_outputs(project)
    before = children_cpu()
    _, _, problem = c.run_quiet(argv, project, env=c.bench_env(env))
    cpu.append(children_cpu() - before)
    return problem or c.check_summary(project, n_jobs)


def cost_per_job(quick: bool) -> dict[str, Any]:
    n_jobs, rounds = (60, 2) if quick else (300, 5)
    cpu: dict[str, list[float]] = {name: [] for name in WAYS}
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        project = Path(tmp)
        c.write_jobs(project, c.noop_jobs(["/bin/true"], n_jobs))
        argv = c.orch_argv(*FLAGS)
        variants = [
            c.Variant(
                name,
                " ".join(f"{k}={v}" for k, v in env.items())
                + (" " if env else "")
                + c.shown(argv, "<project>")
                + f"   # {n_jobs} jobs: /bin/true",
                partial(run_way, argv, project, n_jobs, dict(env), cpu[name]),
            )
            for name, env in WAYS.items()
        ]
        c.measure(variants, rounds, "usage")
    by_name = {v.name: v for v in variants}
    derived = {}
    for way, base in AGAINST.items():
        derived[f"{way} - not, CPU"] = c.derive(
            f"(CPU {way} - CPU {base}) / N * 1000",
            "ms/job",
            [(a - b) / n_jobs * 1000 for a, b in zip(cpu[way], cpu[base], strict=True)],
        )
        derived[f"{way} - not, wall"] = c.derive(
            f"(wall {way} - wall {base}) / N * 1000",
            "ms/job",
            c.per_round(by_name, [way, base], lambda a, b: (a - b) / n_jobs * 1000),
        )
    return {
        "params": {"jobs": n_jobs, "rounds": rounds},
        "variants": c.variants_record(variants),
        "cpu_s": cpu,
        "derived": derived,
        "problems": c.all_problems(variants),
        "tables": [
            c.variants_table(variants, f"wall time, {n_jobs} jobs x {rounds} rounds"),
            c.derived_table(derived, "measuring's cost per job, per round"),
        ],
    }


def sampler_share(quick: bool) -> dict[str, Any]:
    """The looks' CPU over wall time while 8 jobs sleep, sampled as the supervisor does."""
    sys.path.insert(0, str(c.REPO_ROOT))
    from orchestrator.execute.metering import Metering

    seconds = 4 if quick else 12
    metering = Metering.make(cgroups=False)
    if metering is None:
        return {"absent": "not Linux: nothing is sampled"}
    code = SLEEPER.format(seconds=seconds + 2)
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(8)]
    try:
        for number, child in enumerate(children):
            metering.begin(str(number), child.pid, cgroup=None, slot=None, limit=None)
        started, spent, looks = time.monotonic(), 0.0, 0
        while (now := time.monotonic()) < started + seconds:
            due = metering.due() or now + 1
            time.sleep(max(0.0, due - now))
            before = time.thread_time()
            metering.look(time.monotonic())
            spent += time.thread_time() - before
            looks += 1
        wall = time.monotonic() - started
        usages = [metering.end(str(n), None, wall) for n in range(len(children))]
    finally:
        for child in children:
            child.kill()
            child.wait()
        metering.close()
    peaks = [u.peak_memory_bytes for u in usages if u is not None]
    return {
        "jobs": len(children),
        "seconds": wall,
        "loop_wakeups": looks,
        "look_cpu_s": spent,
        "share_percent": 100 * spent / wall,
        "peaks_mb": [round(p / 1e6, 1) if p else None for p in peaks],
        "longest_interval_s": max((u.sample_interval_s or 0) for u in usages if u is not None),
    }


def readout_share(quick: bool) -> dict[str, Any]:
    """What the live view's read-out of 8 running jobs costs (`Metering.so_far`, once a
    second while a terminal shows the view), each way: its CPU per read-out, as a share
    of one core at that rate."""
    sys.path.insert(0, str(c.REPO_ROOT))
    from orchestrator.execute.metering import Metering

    calls = 50 if quick else 500
    shares: dict[str, Any] = {}
    for way, cgroups in (("cgroups", True), ("sampled", False)):
        metering = Metering.make(cgroups=cgroups)
        if metering is None:
            return {"absent": "not Linux: nothing is measured"}
        pids = []
        try:
            for number in range(8):
                with metering.spawning(None) as slot:
                    argv = [sys.executable, "-c", SLEEPER.format(seconds=60)]
                    pids.append(os.posix_spawn(argv[0], argv, dict(os.environ)))
                metering.begin(str(number), pids[-1], cgroup=None, slot=slot, limit=None)
            before = time.thread_time()
            for _ in range(calls):
                metering.so_far()
            shares[way] = 100 * (time.thread_time() - before) / calls / LIVE_EVERY
        finally:
            for pid in pids:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            metering.close()
    return shares


def time_v(argv: Sequence[str]) -> tuple[float, int] | None:
    """/usr/bin/time -v's user + system seconds and maximum RSS in bytes."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=False
    )
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in {
            "User time (seconds)",
            "System time (seconds)",
            "Maximum resident set size (kbytes)",
        }:
            found[key] = float(value)
    if len(found) < 3:
        return None
    cpu = found["User time (seconds)"] + found["System time (seconds)"]
    return cpu, int(found["Maximum resident set size (kbytes)"] * 1024)


def orchestrated_usage(script: Path, project: Path, env: dict[str, str]) -> dict[str, Any] | None:
    c.write_jobs(project, {"job": {"command": [sys.executable, str(script)]}})
    c.clean_outputs(project)
    _, _, problem = c.run_quiet(c.orch_argv(*FLAGS), project, env=c.bench_env(env))
    summary, _ = c.read_summary(project)
    if problem or summary is None:
        return None
    usage: dict[str, Any] | None = summary["jobs"][0]["attempts"][-1].get("usage")
    return usage


def accuracy(quick: bool) -> dict[str, Any]:
    if not Path("/usr/bin/time").exists():
        return {"absent": "no /usr/bin/time"}
    rounds = 1 if quick else 3
    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-usage-acc-") as tmp:
        project = Path(tmp)
        burn, hold = project / "burn.py", project / "hold.py"
        burn.write_text(BURN)
        hold.write_text(HOLD)
        for _ in range(rounds):
            timed_burn = time_v([sys.executable, str(burn)])
            timed_hold = time_v([sys.executable, str(hold)])
            for way, env in (("cgroups", {}), ("sampled", {"TRAIN_ORCH_CGROUP": "off"})):
                burned = orchestrated_usage(burn, project, env)
                held = orchestrated_usage(hold, project, env)
                rows.setdefault(way, []).append(
                    {
                        "method": held and held.get("method"),
                        "cpu_s": burned and burned.get("cpu_s"),
                        "time_cpu_s": timed_burn and timed_burn[0],
                        "peak_bytes": held and held.get("peak_memory_bytes"),
                        "time_max_rss_bytes": timed_hold and timed_hold[1],
                    }
                )
    return rows


def _ratio(rows: list[dict[str, Any]], ours: str, theirs: str) -> list[float]:
    return [r[ours] / r[theirs] for r in rows if r.get(ours) and r.get(theirs)]


def run(quick: bool) -> dict[str, Any]:
    cost = cost_per_job(quick)
    share = sampler_share(quick)
    exact = accuracy(quick)
    live = readout_share(quick)
    derived = dict(cost["derived"])
    for way, share_percent in live.items() if "absent" not in live else ():
        derived[f"live read-out, 8 jobs, {way}"] = c.derive(
            "read-out CPU / its 1 s interval * 100", "% core", [share_percent]
        )
    if "share_percent" in share:
        derived["sampler, 8 sleeping jobs"] = c.derive(
            "looks' CPU / wall * 100", "% core", [share["share_percent"]]
        )
    for way, rows in exact.items() if isinstance(exact, dict) and "absent" not in exact else ():
        derived[f"CPU / time -v, {way}"] = c.derive(
            "cpu_s / (user + sys)", "x", _ratio(rows, "cpu_s", "time_cpu_s")
        )
        derived[f"peak / time -v max RSS, {way}"] = c.derive(
            "peak_memory_bytes / max RSS (one process)",
            "x",
            _ratio(rows, "peak_bytes", "time_max_rss_bytes"),
        )
    summary = [
        c.summary_row("measured - not, CPU per job", derived["measured - not, CPU"]),
        c.summary_row("sampled - not, CPU per job", derived["measured, sampled - not, CPU"]),
    ]
    if "sampler, 8 sleeping jobs" in derived:
        row = derived["sampler, 8 sleeping jobs"]
        summary.append(
            c.summary_row(
                "sampler's share, 8 jobs",
                row,
                target=f"< {TARGET_SHARE} %",
                ok=row["median"] < TARGET_SHARE,
            )
        )
    summary += [
        c.summary_row(label, row, target=f"< {TARGET_SHARE} %", ok=row["median"] < TARGET_SHARE)
        for label, row in derived.items()
        if label.startswith("live read-out")
    ]
    summary += [c.summary_row(label, row) for label, row in derived.items() if "time -v" in label]
    return {
        "title": TITLE,
        "params": cost["params"],
        "variants": cost["variants"],
        "cpu_s": cost["cpu_s"],
        "sampler": share,
        "accuracy": exact,
        "live_readout": live,
        "derived": derived,
        "tables": [*cost["tables"], c.derived_table(derived, "all figures")],
        "summary": summary,
        "problems": cost["problems"],
    }
