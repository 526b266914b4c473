#!/usr/bin/env python3
"""Measure the orchestrator's per-job overhead against baselines timed in the same run.

What is measured
----------------
A throwaway project (a temp dir) gets a ``configs/jobs.yaml`` with N command jobs that do
nothing, once as ``<python> -c pass`` and once as ``/bin/true`` (so Python start-up does not
dominate). For each variant the wall time (``time.perf_counter``) of running all N jobs is
taken ``--repeats`` times:

* ``bare loop``       ``subprocess.run(cmd)`` N times in this process: the cost of a spawn;
* ``xargs -P 1/2``    ``seq N | xargs -P k -I{} cmd``: a minimal external job runner;
* ``threads(2)``      ``ThreadPoolExecutor(2)`` mapping ``subprocess.run``;
* ``parallel -j 2``   GNU parallel, when it is installed;
* ``orch seq``        ``run_all_training.py -q --no-auto-discover`` in the temp project;
* ``orch par(2)``     the same with ``--parallel --max-workers 2``;
* ``orch dry``        the same with ``--dry-run``: interpreter start-up, imports, config
                      loading and planning of all N jobs, nothing run, i.e. the fixed cost.

Why differences against same-run baselines
------------------------------------------
The target machine is small, shared and noisy, so an absolute "the orchestrator takes 4.1 s"
means little. What is meaningful is how much the orchestrator adds *on top of* starting the
same processes some other way, measured minutes apart on the same machine. Repeats are
interleaved (every variant once per round) so slow drift hits all variants alike, and the
derived overhead is computed per round, then summarised:

    per-job overhead (sequential) = (orch seq - orch dry - bare loop) / N
    per-job overhead (2 workers)  = (orch par - orch dry par - threads(2)) / N   (and xargs -P 2)

``results/ logs/ summaries/`` are deleted from the temp project before every orchestrator
run, so each starts from the same state (``summaries/latest.json`` would otherwise change
the planned order). Every orchestrator run is checked: exit code 0 and ``summaries/
latest.json`` reporting N succeeded jobs; anything else is reported, not hidden.

Usage: ``python bench/overhead.py [--jobs 200] [--repeats 5]``; the table goes to stdout and
the raw and derived numbers to ``bench/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINT = REPO_ROOT / "run_all_training.py"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "overhead.json"
RUN_OUTPUTS = ("results", "logs", "summaries", ".train_orch")  # .train_orch: no cached runs
ORCH_TIMEOUT_S = 1800.0
ORCH_BASE_FLAGS = ("-q", "--no-auto-discover", "--discover-roots", "nothing_here")
PARALLEL_FLAGS = ("--parallel", "--max-workers", "2")


@dataclass
class Variant:
    """One way of running the N jobs; ``run`` returns a problem description or None."""

    name: str
    command: str
    run: Callable[[], str | None]
    times_s: list[float] = field(default_factory=list)
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


def orchestrator_env() -> dict[str, str]:
    """This environment without TRAIN_ORCH_* settings, which would change what runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}


# --------------------------------------------------------------------------- runners


def run_bare_loop(job_cmd: Sequence[str], n_jobs: int) -> str | None:
    failures = sum(subprocess.run(job_cmd, check=False).returncode != 0 for _ in range(n_jobs))
    return f"{failures} of {n_jobs} runs failed" if failures else None


def run_thread_pool(job_cmd: Sequence[str], n_jobs: int, workers: int) -> str | None:
    with ThreadPoolExecutor(workers) as pool:
        codes = list(
            pool.map(lambda _: subprocess.run(job_cmd, check=False).returncode, range(n_jobs))
        )
    failures = sum(code != 0 for code in codes)
    return f"{failures} of {n_jobs} runs failed" if failures else None


def run_fed_by_seq(argv: Sequence[str], n_jobs: int) -> str | None:
    """Run ``seq N | argv`` (xargs, GNU parallel) and report a non-zero exit."""
    lines = "".join(f"{index}\n" for index in range(1, n_jobs + 1))
    result = subprocess.run(argv, input=lines.encode(), check=False)
    return f"exit code {result.returncode}" if result.returncode else None


def run_orchestrator(argv: Sequence[str], project: Path, n_jobs: int, *, dry: bool) -> str | None:
    """Run the orchestrator in ``project`` and check it ran (or planned) all N jobs."""
    clean_outputs(project)
    try:
        result = subprocess.run(
            argv,
            cwd=project,
            env=orchestrator_env(),
            capture_output=True,
            text=True,
            timeout=ORCH_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {ORCH_TIMEOUT_S:.0f}s"
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        return f"exit code {result.returncode}; output tail:\n" + "\n".join(tail)
    if dry:
        planned = result.stdout.count("# noop")
        return None if planned == n_jobs else f"dry run listed {planned} of {n_jobs} jobs"
    return check_summary(project, n_jobs)


def check_summary(project: Path, n_jobs: int) -> str | None:
    latest = project / "summaries" / "latest.json"
    try:
        summary = json.loads(latest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"cannot read {latest.name}: {exc}"
    counts = summary.get("counts")
    if summary.get("exit_code") != 0 or counts != {"succeeded": n_jobs}:
        return f"summary exit_code={summary.get('exit_code')} counts={counts}"
    return None


# --------------------------------------------------------------------------- variants


def build_variants(project: Path, job_cmd: Sequence[str], n_jobs: int) -> list[Variant]:
    cmd = list(job_cmd)
    shown = " ".join(cmd)
    orch = [sys.executable, str(ENTRY_POINT), *ORCH_BASE_FLAGS]
    variants = [
        Variant(
            "bare loop",
            f"for _ in range({n_jobs}): subprocess.run({cmd!r})",
            partial(run_bare_loop, cmd, n_jobs),
        ),
        Variant(
            "threads(2)",
            f"ThreadPoolExecutor(2).map(subprocess.run({cmd!r}), range({n_jobs}))",
            partial(run_thread_pool, cmd, n_jobs, 2),
        ),
    ]
    for workers in (1, 2):
        argv = ["xargs", "-P", str(workers), "-I{}", *cmd]
        variants.append(
            Variant(
                f"xargs -P {workers}",
                f"seq {n_jobs} | {' '.join(argv)}",
                partial(run_fed_by_seq, argv, n_jobs),
            )
        )
    gnu_parallel = shutil.which("parallel")
    if gnu_parallel:
        argv = [gnu_parallel, "-j", "2", "-N0", *cmd]
        variants.append(
            Variant(
                "parallel -j 2",
                f"seq {n_jobs} | {' '.join(argv)}",
                partial(run_fed_by_seq, argv, n_jobs),
            )
        )
    orch_runs = {
        "orch seq": (orch, False),
        "orch dry": ([*orch, "--dry-run"], True),
        "orch par(2)": ([*orch, *PARALLEL_FLAGS], False),
        "orch dry par": ([*orch, *PARALLEL_FLAGS, "--dry-run"], True),
    }
    for name, (argv, dry) in orch_runs.items():
        variants.append(
            Variant(
                name,
                f"cd <project> && {' '.join(argv)}   # job: {shown}",
                partial(run_orchestrator, argv, project, n_jobs, dry=dry),
            )
        )
    return variants


def measure(variants: Sequence[Variant], repeats: int, label: str) -> None:
    """Time every variant once per round, ``repeats`` rounds, interleaved."""
    for round_no in range(1, repeats + 1):
        for variant in variants:
            started = time.perf_counter()
            problem = variant.run()
            elapsed = time.perf_counter() - started
            variant.times_s.append(elapsed)
            status = "ok" if problem is None else "PROBLEM"
            print(
                f"  [{label}] round {round_no}/{repeats}  {variant.name:<13} "
                f"{elapsed:8.3f}s  {status}",
                file=sys.stderr,
                flush=True,
            )
            if problem is not None:
                variant.problems.append(f"round {round_no}: {problem}")
                print(f"    {problem}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- derived


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def per_job_overheads(by_name: dict[str, Variant], n_jobs: int) -> dict[str, dict[str, Any]]:
    """Per-round (orch - orch dry - baseline) / N in ms, summarised as median and range."""
    comparisons = {
        "sequential vs bare loop": ("orch seq", "orch dry", "bare loop"),
        "sequential vs xargs -P 1": ("orch seq", "orch dry", "xargs -P 1"),
        "parallel(2) vs threads(2)": ("orch par(2)", "orch dry par", "threads(2)"),
        "parallel(2) vs xargs -P 2": ("orch par(2)", "orch dry par", "xargs -P 2"),
    }
    derived: dict[str, dict[str, Any]] = {}
    for label, (run, dry, base) in comparisons.items():
        rounds = zip(by_name[run].times_s, by_name[dry].times_s, by_name[base].times_s, strict=True)
        per_round = [(r - d - b) / n_jobs * 1000 for r, d, b in rounds]
        derived[label] = {
            "formula": f"({run} - {dry} - {base}) / N * 1000",
            "per_round_ms": per_round,
            **{f"{k}_ms": v for k, v in spread(per_round).items()},
        }
    return derived


def summarise(variants: Sequence[Variant], n_jobs: int) -> dict[str, Any]:
    by_name = {variant.name: variant for variant in variants}
    base = statistics.median(by_name["bare loop"].times_s)
    return {
        "variants": {
            v.name: {
                "command": v.command,
                "times_s": v.times_s,
                **{f"{k}_s": x for k, x in spread(v.times_s).items()},
                "per_job_ms": statistics.median(v.times_s) / n_jobs * 1000,
                "ratio_to_bare_loop": statistics.median(v.times_s) / base,
                "problems": v.problems,
            }
            for v in variants
        },
        "per_job_overhead": per_job_overheads(by_name, n_jobs),
    }


# --------------------------------------------------------------------------- output


def print_table(title: str, summary: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  {'variant':<14}{'median s':>10}{'min s':>9}{'max s':>9}{'ms/job':>9}{'x bare':>8}")
    for name, row in summary["variants"].items():
        flag = "  PROBLEMS" if row["problems"] else ""
        print(
            f"  {name:<14}{row['median_s']:>10.3f}{row['min_s']:>9.3f}{row['max_s']:>9.3f}"
            f"{row['per_job_ms']:>9.2f}{row['ratio_to_bare_loop']:>8.2f}{flag}"
        )
    print(f"  {'per-job overhead':<28}{'median ms':>10}{'min ms':>9}{'max ms':>9}")
    for label, row in summary["per_job_overhead"].items():
        print(f"  {label:<28}{row['median_ms']:>10.2f}{row['min_ms']:>9.2f}{row['max_ms']:>9.2f}")


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version,
        "python_executable": sys.executable,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gnu_parallel": shutil.which("parallel"),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per run (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.repeats < 1:
        parser.error("--jobs and --repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    job_kinds = {"python": [sys.executable, "-c", "pass"], "true": ["/bin/true"]}
    report: dict[str, Any] = {
        "machine": machine_info(),
        "jobs": args.jobs,
        "repeats": args.repeats,
        "orchestrator": str(ENTRY_POINT),
        "kinds": {},
    }
    if not report["machine"]["gnu_parallel"]:
        print("GNU parallel is not installed: that variant is skipped.", file=sys.stderr)
    for kind, job_cmd in job_kinds.items():
        with tempfile.TemporaryDirectory(prefix=f"orch-bench-{kind}-") as tmp:
            project = Path(tmp)
            write_project(project, job_cmd, args.jobs)
            variants = build_variants(project, job_cmd, args.jobs)
            measure(variants, args.repeats, kind)
            report["kinds"][kind] = {"job_command": job_cmd, **summarise(variants, args.jobs)}
    header = f"{args.jobs} jobs x {args.repeats} repeats, {report['machine']['cpu_count']} CPUs"
    for kind, summary in report["kinds"].items():
        print_table(f"[{kind}: {' '.join(summary['job_command'])}]  {header}", summary)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nraw and derived numbers: {RESULTS_FILE}")
    problems = [
        f"{kind}/{name}: {problem}"
        for kind, summary in report["kinds"].items()
        for name, row in summary["variants"].items()
        for problem in row["problems"]
    ]
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
