#!/usr/bin/env python3
"""Run the orchestrator's benchmark suite and print what it found.

Usage, from anywhere (the README's one command)::

    bash bench/setup.sh && python3 bench/run.py [--quick] [--only NAME[,NAME...]] [--env K=V]

Benchmarks, in the order they run (each ``bench/<module>.py`` with ``run(quick) -> dict``):

    startup           --help / --list / --dry-run above bare Python, in instructions and ms;
                      no ML imports
    discovery         --list over a 20,000-file tree vs a bare os.walk
    overhead          per-job overhead vs a bare loop, xargs, threads, GNU parallel, Snakemake
                      (module job_overhead.py)
    journal           the event journal's cost per job
    makespan          parallel efficiency, FIFO vs longest-first (--durations)
    oversubscription  two parallel LightGBM jobs with and without thread caps
    usage             measuring each job's CPU and memory: its cost per job and while 8 jobs
                      run, its accuracy against /usr/bin/time -v
    tracking          MLflow tracking on (embedded store) vs off: its cost per job and per run
    ray               bench/ray_overhead.py --repeats 2, when ``import ray`` works

Every figure is a ratio or a difference against a baseline timed in the same run, in
interleaved rounds, given as median and min-max over the rounds (the machine is small,
shared and noisy). One table per benchmark is printed as it finishes, then a summary table;
per-round progress goes to stderr. Each benchmark's machine info, exact commands, raw times
and derived figures go to ``bench/results/<name>.json`` (``ray``: also the script's own
``bench/results/ray_overhead.json``). Exit code 1 when any check failed or a benchmark
crashed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import _common as c
import discovery
import job_overhead
import journal
import makespan
import oversubscription
import startup
import tracking
import usage

RAY_SCRIPT = c.BENCH_DIR / "ray_overhead.py"
RAY_RESULTS = c.RESULTS_DIR / "ray_overhead.json"
#: The figures of ray_overhead.py's report that go into the summary table, with a note.
#: The in-run one comes first: the wall-time one subtracts two Ray start-ups whose spread
#: here is larger than N jobs' worth of overhead (so it can even come out negative).
RAY_FIGURES = {
    "in-run overhead, ray-local": "from the summaries' duration_s",
    "per-job overhead, ray-local": "wall; Ray start-up spread dominates",
    "ray start-up": "",
}


# --------------------------------------------------------------------------- ray


def ray_importable() -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "import ray; print(ray.__version__)"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        return False, c.tail(proc.stderr, 1)
    return True, proc.stdout.strip()


def run_ray(quick: bool) -> dict[str, Any]:
    """``bench/ray_overhead.py`` as a subprocess; its derived figures, re-tabled."""
    ok, version = ray_importable()
    result: dict[str, Any] = {
        "title": "Ray backend vs local backend (bench/ray_overhead.py)",
        "tables": [],
        "summary": [],
        "problems": [],
    }
    if not ok:
        result["absent"] = f"import ray failed: {version}"
        result["summary"].append(
            {**c.summary_row("Ray backend", {"unit": ""}), "note": "absent (import ray failed)"}
        )
        return result
    flags = ["--repeats", "1", "--jobs", "20", "--kinds", "true"] if quick else ["--repeats", "2"]
    argv = [sys.executable, str(RAY_SCRIPT), *flags]
    started_at = time.time()
    code, output, problem = c.run_quiet(argv, c.REPO_ROOT, env=c.bench_env(), timeout=900)
    log = c.RESULTS_DIR / "ray_overhead.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output, encoding="utf-8")
    result |= {"ray": version, "command": c.shown(argv, c.REPO_ROOT), "exit_code": code}
    result["output_log"] = str(log)
    if problem:
        result["problems"].append(problem)
    try:
        fresh = RAY_RESULTS.stat().st_mtime >= started_at
        report = json.loads(RAY_RESULTS.read_text(encoding="utf-8")) if fresh else None
    except (OSError, ValueError) as exc:
        result["problems"].append(f"cannot read {RAY_RESULTS}: {exc}")
        return result
    if report is None:
        result["problems"].append(f"{RAY_RESULTS} was not rewritten by this run")
        return result
    result["report_file"] = str(RAY_RESULTS)
    result["rounds_completed"] = report.get("rounds_completed")
    result["jobs"] = report.get("jobs")
    result["kinds"] = {}
    rows = []
    for kind, data in report.get("kinds", {}).items():
        derived = data.get("derived", {})
        result["kinds"][kind] = {"derived": derived, "job_command": data.get("job_command")}
        for label, row in derived.items():
            rows.append([f"[{kind}] {label}", row["unit"], c.fmt(row["median"]), c.fmt_range(row)])
        for label, note in RAY_FIGURES.items():
            if label in derived and not (label == "ray start-up" and kind != "true"):
                row = c.summary_row(f"[{kind}] {label}", derived[label])
                result["summary"].append({**row, "note": note})
    result["tables"].append(
        {
            "title": f"{report.get('jobs')} vs 1 jobs, {report.get('rounds_completed')} rounds, "
            f"ray {version} (full tables: {log.relative_to(c.REPO_ROOT)})",
            "headers": ["figure", "unit", "median", "min..max"],
            "rows": rows,
        }
    )
    return result


# --------------------------------------------------------------------------- suite


def benchmarks() -> dict[str, Callable[[bool], dict[str, Any]]]:
    modules: Sequence[ModuleType] = (
        startup,
        discovery,
        job_overhead,
        journal,
        makespan,
        oversubscription,
        usage,
        tracking,
    )
    found: dict[str, Callable[[bool], dict[str, Any]]] = {m.NAME: m.run for m in modules}
    found["ray"] = run_ray
    return found


def print_tables(name: str, result: dict[str, Any], wall_s: float) -> None:
    print(f"\n== {name}: {result.get('title', '')}  ({wall_s:.0f} s)")
    for table in result.get("tables", []):
        print(f"  {table['title']}")
        print(c.format_table(table["headers"], table["rows"], indent="    "))
    for problem in result.get("problems", []):
        first = problem.splitlines()[0] if problem else ""
        print(f"  PROBLEM {first}")
    sys.stdout.flush()


def summary_lines(rows: list[dict[str, Any]]) -> list[list[str]]:
    lines = []
    for row in rows:
        digits = 3 if row.get("unit") in {"x", "eff"} else 2
        verdict = {True: "ok", False: "MISS", None: ""}[row.get("ok")]
        note = row.get("note", "")
        has_value = row.get("median") is not None
        lines.append(
            [
                row["benchmark"],
                row["figure"],
                row.get("unit", "") if has_value else "",
                c.fmt(row.get("median"), digits) if has_value else "-",
                c.fmt_range(row, digits) if has_value else "-",
                row.get("target", ""),
                verdict,
                note,
            ]
        )
    return lines


def parse_args(argv: Sequence[str] | None, names: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the orchestrator's benchmark suite (see bench/run.py's docstring)."
    )
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds: a smoke check")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(names)}",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in every timed command's environment, e.g. TRAIN_ORCH_USAGE=off to time "
        "runs that measure nothing (TRAIN_ORCH_* from the shell are dropped)",
    )
    args = parser.parse_args(argv)
    for setting in args.env:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            parser.error(f"--env: expected KEY=VALUE, got {setting!r}")
        c.ORCH_ENV[key] = value
    args.only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(names)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    suite = benchmarks()
    args = parse_args(argv, list(suite))
    selected = [name for name in suite if not args.only or name in args.only]
    command = shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else ""
    started = time.perf_counter()
    machine = c.machine_info()
    header = [
        f"machine: {machine['platform']}, {machine['cpu_count']} CPUs, "
        f"python {machine['python']}, loadavg {machine['loadavg'][0]:.2f}",
        f"date:    {machine['date_utc']}",
        f"command: {command}" + ("  (quick)" if args.quick else ""),
        f"env:     {' '.join(f'{k}={v}' for k, v in c.ORCH_ENV.items()) or '-'}",
        "tools:   GNU parallel "
        + (machine["tools"]["gnu_parallel"] or "absent")
        + ", Snakemake "
        + (machine["tools"]["snakemake"] or "absent"),
    ]
    print("\n".join(header), flush=True)
    c.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    summary: list[dict[str, Any]] = []
    failed: list[str] = []
    for name in selected:
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        bench_started = time.perf_counter()
        bench_machine = c.machine_info()
        try:
            result = suite[name](args.quick)
        except Exception:  # one broken benchmark must not hide the others
            result = {"title": "CRASHED", "problems": [traceback.format_exc()], "summary": []}
        wall_s = time.perf_counter() - bench_started
        print_tables(name, result, wall_s)
        record = {
            "benchmark": name,
            "quick": args.quick,
            "suite_command": command,
            "env": dict(c.ORCH_ENV),
            "machine": bench_machine,
            "wall_s": wall_s,
            **{k: v for k, v in result.items() if k != "tables"},
        }
        path = c.RESULTS_DIR / f"{name}.json"
        path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        summary += [{"benchmark": name, **row} for row in result.get("summary", [])]
        failed += [f"{name}: {p}" for p in result.get("problems", [])]
    total_s = time.perf_counter() - started
    print("\n" + "=" * 100)
    print("SUMMARY")
    print("\n".join(header))
    headers = ["benchmark", "figure", "unit", "median", "min..max", "target", "verdict", "note"]
    print(c.format_table(headers, summary_lines(summary)))
    print(f"total wall time: {total_s:.0f} s ({total_s / 60:.1f} min)")
    print(f"results: {c.RESULTS_DIR}/<name>.json")
    if failed:
        print(f"\n{len(failed)} PROBLEM(S):")
        for problem in failed:
            print("  " + problem.replace("\n", "\n    "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
