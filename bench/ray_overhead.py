#!/usr/bin/env python3
"""Measure the Ray backend's per-job overhead and start-up cost against the local backend.

What is measured
----------------
Two throwaway projects (temp dirs) per job kind get a ``configs/jobs.yaml`` of command jobs
that do nothing: one with a single job, one with N (default 100). The kinds are
``/bin/true`` and ``<python> -c pass``. Every orchestrator run uses
``--no-auto-discover -q --parallel --max-workers 2``; the wall time
(``time.perf_counter``) of each is taken ``--repeats`` times:

* ``local 1`` / ``local N``  the local backend, 1 and N jobs;
* ``ray 1`` / ``ray N``      the same with ``--backend ray --cpus 2``: the orchestrator
                             starts a local Ray instance (no ``--ray-address``), runs each
                             job as a Ray task and shuts Ray down at the end;
* ``ray.init bare``          ``<python> -c "import ray; ray.init(num_cpus=2,
                             include_dashboard=False); ray.shutdown()"``, for reference.

The ``run s`` column is the orchestrator's own ``duration_s`` from ``summaries/latest.json``:
the scheduling of the jobs only, without interpreter start-up, imports, ``ray.init`` and
``ray.shutdown``.

Derived, per round and then summarised (median, min-max):

    ray start-up                 = ray 1 - local 1
    per-job cost (backend)       = (backend N - backend 1) / (N - 1)
    per-job overhead, ray-local  = ((ray N - ray 1) - (local N - local 1)) / (N - 1) * 1000 ms
    per-job ratio, ray/local     = (ray N - ray 1) / (local N - local 1)
    in-run overhead and ratio    = the same two with the ``run s`` values (see below)

Subtracting the 1-job run of the same backend removes its fixed cost (interpreter, imports,
config loading, for Ray also starting and stopping the instance), so what is left is the
cost of N - 1 more jobs. Rounds are interleaved (every variant of every kind once per
round) so slow drift on this small, shared machine hits all variants alike.

Hygiene and checks
------------------
``results/ logs/ summaries/ .train_orch/`` are deleted from the temp project before every
orchestrator run (``.train_orch/`` holds the incremental cache: without this, later runs
would report the jobs as ``cached`` instead of running them). ``TRAIN_ORCH_*`` variables are
removed from the environment and ``RAY_DISABLE_USAGE_STATS=1`` is added; Ray's other
settings are left as they are. Every orchestrator run must exit 0 and its
``summaries/latest.json`` must report exit code 0, N succeeded jobs and the expected
backend. After every Ray run the processes of its Ray session (those whose command line
names ``session_..._<driver pid>``, and their children) must be gone within
``RAY_EXIT_WAIT_S`` (the wait is not timed). The first problem stops the measurement:
``PROBLEM`` is printed with the command and the last lines of its output, the rounds
completed so far are reported and the exit code is 1.

Usage: ``python bench/ray_overhead.py [--jobs 100] [--repeats 3] [--kinds true,python]``;
the table goes to stdout, progress to stderr, and the raw and derived numbers to
``bench/results/ray_overhead.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINT = REPO_ROOT / "run_all_training.py"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "ray_overhead.json"
RUN_OUTPUTS = ("results", "logs", "summaries", ".train_orch")
ORCH_TIMEOUT_S = 600.0
RAY_EXIT_WAIT_S = 30.0
TAIL_LINES = 15
ORCH_FLAGS = ("--no-auto-discover", "-q", "--parallel", "--max-workers", "2")
RAY_FLAGS = ("--backend", "ray", "--cpus", "2")
RAY_INIT_CODE = "import ray; ray.init(num_cpus=2, include_dashboard=False); ray.shutdown()"
JOB_KINDS = {"true": ["/bin/true"], "python": [sys.executable, "-c", "pass"]}
Formula = Callable[[float, float, float, float], float]  # (local 1, local N, ray 1, ray N)
SESSION_PID = re.compile(r"session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_(\d+)")


@dataclass
class Outcome:
    """What one timed run left: a problem description (or None) and its own run time."""

    problem: str | None = None
    run_s: float | None = None


@dataclass
class Variant:
    """One timed command; ``run`` does it once and reports what went wrong, if anything."""

    name: str
    kind: str
    command: str
    run: Callable[[], Outcome]
    times_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- project


def write_project(project: Path, job_cmd: Sequence[str], n_jobs: int) -> None:
    """Write ``configs/jobs.yaml`` with ``n_jobs`` identical command jobs."""
    configs = project / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    argv = ", ".join(json.dumps(arg) for arg in job_cmd)
    lines = ["jobs:"]
    for index in range(n_jobs):
        lines += [f"  noop{index:03d}:", f"    command: [{argv}]"]
    (configs / "jobs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def clean_outputs(project: Path) -> None:
    """Delete what a previous orchestrator run left, so every run starts the same way."""
    for name in RUN_OUTPUTS:
        shutil.rmtree(project / name, ignore_errors=True)


def bench_env() -> dict[str, str]:
    """This environment without TRAIN_ORCH_* settings, and without Ray's usage-stats noise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    env["RAY_DISABLE_USAGE_STATS"] = "1"
    return env


# --------------------------------------------------------------------------- ray processes


def ray_session_processes(driver_pid: int) -> list[str]:
    """Live processes of the Ray session a driver started, and their children ("pid name")."""
    procs: dict[int, tuple[int, str, str]] = {}  # pid -> (ppid, name, cmdline)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        name, _, rest = stat[stat.index("(") + 1 :].rpartition(")")
        state, ppid = rest.split()[:2]
        if state != "Z":  # a zombie holds no resources; its reaper is not ours to fix
            procs[int(entry.name)] = (int(ppid), name, cmdline)
    ours = {
        pid
        for pid, (_, _, cmdline) in procs.items()
        if any(int(m) == driver_pid for m in SESSION_PID.findall(cmdline))
    }
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in procs.items() if ppid in ours} - ours
        ours |= children
        grew = bool(children)
    return [f"{pid} {procs[pid][1]}" for pid in sorted(ours)]


def wait_for_ray_exit(driver_pid: int) -> str | None:
    """Wait (untimed) until the driver's Ray session is gone; report what stays."""
    deadline = time.monotonic() + RAY_EXIT_WAIT_S
    while left := ray_session_processes(driver_pid):
        if time.monotonic() > deadline:
            return (
                f"Ray processes of session *_{driver_pid} still running "
                f"{RAY_EXIT_WAIT_S:.0f}s after the run: " + ", ".join(left)
            )
        time.sleep(0.2)
    return None


def foreign_ray_processes() -> list[str]:
    """Ray daemons already running (someone else's): they share this machine's CPUs."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if name in {"raylet", "gcs_server"}:
                found.append(f"{entry.name} {name}")
    return found


# --------------------------------------------------------------------------- runners


def tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-TAIL_LINES:])


def run_command(argv: Sequence[str], cwd: Path) -> tuple[subprocess.Popen[str], str, str | None]:
    """Run to the end (or the timeout); return the process, its output and a problem."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=ORCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            return (
                proc,
                output,
                f"timed out after {ORCH_TIMEOUT_S:.0f}s; output tail:\n{tail(output)}",
            )
    if proc.returncode != 0:
        return proc, output, f"exit code {proc.returncode}; output tail:\n{tail(output)}"
    return proc, output, None


def run_orchestrator(argv: Sequence[str], project: Path, n_jobs: int, backend: str) -> Outcome:
    """Run the orchestrator in ``project`` and check it ran all N jobs on ``backend``."""
    clean_outputs(project)
    proc, output, problem = run_command(argv, project)
    if backend == "ray":
        leftover = wait_for_ray_exit(proc.pid)
        if leftover:
            problem = f"{problem}\n{leftover}" if problem else leftover
    if problem:
        return Outcome(problem)
    return check_summary(project, n_jobs, backend, output)


def check_summary(project: Path, n_jobs: int, backend: str, output: str) -> Outcome:
    latest = project / "summaries" / "latest.json"
    try:
        summary = json.loads(latest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Outcome(f"cannot read {latest.name}: {exc}; output tail:\n{tail(output)}")
    counts = summary.get("counts")
    used = (summary.get("backend") or {}).get("name")
    if summary.get("exit_code") != 0 or counts != {"succeeded": n_jobs} or used != backend:
        bad = [
            f"{job.get('id')}={job.get('status')} ({job.get('reason')})"
            for job in summary.get("jobs", [])
            if job.get("status") != "succeeded"
        ][:5]
        return Outcome(
            f"summary exit_code={summary.get('exit_code')} counts={counts} backend={used}"
            f" (expected {backend}); first other statuses: {bad}; output tail:\n{tail(output)}"
        )
    return Outcome(run_s=float(summary["duration_s"]))


def run_ray_init(argv: Sequence[str], cwd: Path) -> Outcome:
    proc, _, problem = run_command(argv, cwd)
    leftover = wait_for_ray_exit(proc.pid)
    if leftover:
        problem = f"{problem}\n{leftover}" if problem else leftover
    return Outcome(problem)


# --------------------------------------------------------------------------- variants


def orch_variants(kind: str, projects: dict[int, Path], job_cmd: Sequence[str]) -> list[Variant]:
    shown = " ".join(job_cmd)
    orch = [sys.executable, str(ENTRY_POINT), *ORCH_FLAGS]
    variants = []
    for backend, argv in (("local", orch), ("ray", [*orch, *RAY_FLAGS])):
        for n_jobs, project in projects.items():
            variants.append(
                Variant(
                    f"{backend} {n_jobs}",
                    kind,
                    f"cd <{n_jobs}-job project> && {' '.join(argv)}   # job: {shown}",
                    partial(run_orchestrator, argv, project, n_jobs, backend),
                )
            )
    return variants


def ray_init_variant(cwd: Path) -> Variant:
    argv = [sys.executable, "-c", RAY_INIT_CODE]
    return Variant(
        "ray.init bare",
        "ray",
        f"{sys.executable} -c '{RAY_INIT_CODE}'",
        partial(run_ray_init, argv, cwd),
    )


def measure(variants: Sequence[Variant], repeats: int) -> int:
    """Time every variant once per round, interleaved; stop at the first problem.

    Returns the number of rounds completed; the times of an unfinished round are dropped.
    """
    for round_no in range(1, repeats + 1):
        for variant in variants:
            started = time.perf_counter()
            outcome = variant.run()
            elapsed = time.perf_counter() - started
            status = "ok" if outcome.problem is None else "PROBLEM"
            print(
                f"  round {round_no}/{repeats}  [{variant.kind}] {variant.name:<14} "
                f"{elapsed:8.3f}s  {status}",
                file=sys.stderr,
                flush=True,
            )
            if outcome.problem is not None:
                variant.problems.append(f"round {round_no}: {outcome.problem}")
                for other in variants:
                    del other.times_s[round_no - 1 :]
                    del other.run_s[round_no - 1 :]
                return round_no - 1
            variant.times_s.append(elapsed)
            if outcome.run_s is not None:
                variant.run_s.append(outcome.run_s)
    return repeats


# --------------------------------------------------------------------------- derived


def spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def derived_for_kind(by_name: dict[str, Variant], n_jobs: int) -> dict[str, dict[str, Any]]:
    """Per-round start-up, per-job costs and Ray's per-job overhead, summarised.

    The ``in-run`` rows use the orchestrator's own ``duration_s`` instead of the wall time:
    without Ray's start and stop, whose spread here is larger than N jobs' worth of overhead.
    """
    names = ("local 1", f"local {n_jobs}", "ray 1", f"ray {n_jobs}")
    wall = list(zip(*(by_name[name].times_s for name in names), strict=True))
    in_run = list(zip(*(by_name[name].run_s for name in names), strict=True))
    more = n_jobs - 1
    formulas: dict[str, tuple[str, str, list[tuple[float, ...]], Formula]] = {
        "ray start-up": ("s", "ray 1 - local 1", wall, lambda l1, ln, r1, rn: r1 - l1),
        "per-job cost, local": (
            "ms",
            f"(local {n_jobs} - local 1) / {more} * 1000",
            wall,
            lambda l1, ln, r1, rn: (ln - l1) / more * 1000,
        ),
        "per-job cost, ray": (
            "ms",
            f"(ray {n_jobs} - ray 1) / {more} * 1000",
            wall,
            lambda l1, ln, r1, rn: (rn - r1) / more * 1000,
        ),
        "per-job overhead, ray-local": (
            "ms",
            f"((ray {n_jobs} - ray 1) - (local {n_jobs} - local 1)) / {more} * 1000",
            wall,
            lambda l1, ln, r1, rn: ((rn - r1) - (ln - l1)) / more * 1000,
        ),
        "per-job ratio, ray/local": (
            "x",
            f"(ray {n_jobs} - ray 1) / (local {n_jobs} - local 1)",
            wall,
            lambda l1, ln, r1, rn: (rn - r1) / (ln - l1),
        ),
        "in-run overhead, ray-local": (
            "ms",
            f"((ray {n_jobs} run - ray 1 run) - (local {n_jobs} run - local 1 run))"
            f" / {more} * 1000",
            in_run,
            lambda l1, ln, r1, rn: ((rn - r1) - (ln - l1)) / more * 1000,
        ),
        "in-run ratio, ray/local": (
            "x",
            f"(ray {n_jobs} run - ray 1 run) / (local {n_jobs} run - local 1 run)",
            in_run,
            lambda l1, ln, r1, rn: (rn - r1) / (ln - l1),
        ),
    }
    derived: dict[str, dict[str, Any]] = {}
    for label, (unit, formula, rounds, compute) in formulas.items():
        per_round = [compute(*values) for values in rounds]
        derived[label] = {
            "unit": unit,
            "formula": formula,
            "per_round": per_round,
            **spread(per_round),
        }
    return derived


def summarise_variant(variant: Variant) -> dict[str, Any]:
    return {
        "command": variant.command,
        "times_s": variant.times_s,
        **{f"{k}_s": x for k, x in spread(variant.times_s).items()},
        "run_s": variant.run_s,
        "run_median_s": spread(variant.run_s)["median"],
        "problems": variant.problems,
    }


# --------------------------------------------------------------------------- output


def fmt(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_table(title: str, variants: dict[str, Any], derived: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  {'variant':<15}{'median s':>10}{'min s':>9}{'max s':>9}{'run s':>8}")
    for name, row in variants.items():
        flag = "  PROBLEMS" if row["problems"] else ""
        print(
            f"  {name:<15}{fmt(row['median_s'], 10, 3)}{fmt(row['min_s'], 9, 3)}"
            f"{fmt(row['max_s'], 9, 3)}{fmt(row['run_median_s'], 8, 3)}{flag}"
        )
    if not derived:
        return
    print(f"  {'derived':<34}{'median':>9}{'min':>9}{'max':>9}")
    for label, row in derived.items():
        print(
            f"  {label + ' (' + row['unit'] + ')':<34}{fmt(row['median'], 9, 2)}"
            f"{fmt(row['min'], 9, 2)}{fmt(row['max'], 9, 2)}"
        )


def machine_info() -> dict[str, Any]:
    try:
        ray_version = subprocess.run(
            [sys.executable, "-c", "import ray; print(ray.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        ray_version = ""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version,
        "python_executable": sys.executable,
        "ray": ray_version or None,
        "ray_address_env": os.environ.get("RAY_ADDRESS"),
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_at_start": os.getloadavg(),
        "foreign_ray_daemons_at_start": foreign_ray_processes(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs in the big run (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--kinds",
        default=",".join(JOB_KINDS),
        help=f"job kinds, comma-separated, from {','.join(JOB_KINDS)} (default: all)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 2 or args.repeats < 1:
        parser.error("--jobs must be at least 2 and --repeats at least 1")
    args.kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(args.kinds) - set(JOB_KINDS))
    if unknown or not args.kinds:
        parser.error(f"--kinds: unknown {unknown}, choose from {sorted(JOB_KINDS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "machine": machine_info(),
        "jobs": args.jobs,
        "repeats": args.repeats,
        "orchestrator": str(ENTRY_POINT),
        "environment": "os.environ without TRAIN_ORCH_*, plus RAY_DISABLE_USAGE_STATS=1",
        "kinds": {},
    }
    if report["machine"]["foreign_ray_daemons_at_start"]:
        print(
            "note: Ray daemons of another session are running and share the CPUs: "
            + ", ".join(report["machine"]["foreign_ray_daemons_at_start"]),
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="orch-bench-ray-") as tmp:
        root = Path(tmp)
        variants: list[Variant] = []
        for kind in args.kinds:
            projects = {n: root / f"{kind}-{n}" for n in (1, args.jobs)}
            for n_jobs, project in projects.items():
                write_project(project, JOB_KINDS[kind], n_jobs)
            variants += orch_variants(kind, projects, JOB_KINDS[kind])
        bare = ray_init_variant(root)
        variants.append(bare)
        rounds = measure(variants, args.repeats)
    report["rounds_completed"] = rounds
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    report["ray_init_bare"] = summarise_variant(bare)
    for kind in args.kinds:
        by_name = {v.name: v for v in variants if v.kind == kind}
        report["kinds"][kind] = {
            "job_command": JOB_KINDS[kind],
            "variants": {name: summarise_variant(v) for name, v in by_name.items()},
            "derived": derived_for_kind(by_name, args.jobs) if rounds else {},
        }
    header = (
        f"{args.jobs} vs 1 jobs x {rounds} rounds, {report['machine']['cpu_count']} CPUs, "
        f"ray {report['machine']['ray']}"
    )
    for kind, summary in report["kinds"].items():
        title = f"[{kind}: {' '.join(summary['job_command'])}]  {header}"
        print_table(title, summary["variants"], summary["derived"])
    print_table(f"[reference: {RAY_INIT_CODE}]", {"ray.init bare": report["ray_init_bare"]}, {})
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nraw and derived numbers: {RESULTS_FILE}")
    problems = [f"[{v.kind}] {v.name}: {v.command}\n{p}" for v in variants for p in v.problems]
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    if problems:
        print(f"PROBLEM: stopped after {rounds} complete round(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
