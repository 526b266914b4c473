#!/usr/bin/env python3
"""Benchmark planning: ``--dry-run`` of a matrix of 1,000 and of 10,000 jobs.

Stand-alone: ``python3 bench/planning.py [--rounds N]``. Target (issue 17): 10,000 jobs
planned in at most 2 s on this machine, and the cost per job flat from 1,000 to 10,000 (a
ratio near 1; something quadratic makes it about 10).

Each project is one matrix job over a discovered ``train_grid.py`` (two axes, one of them
``seed``, so both flag kinds are planned), with tags and a gate, plus a job that needs the
whole matrix (every member becomes a need: the graph code is exercised). Timed, interleaved
over rounds, each a fresh process from a temp dir:

* ``--dry-run --format json`` of 1 job (start-up and the fixed cost), of 1,000 and of 10,000;
* the same in-process, without start-up: load the config, merge, select, ``build_plan``.

Printed per round and as the median: seconds for 10,000 jobs (gross wall and CPU, and wall
above the 1-job run), ms per job above the 1-job run at 1,000 and at 10,000, and their
ratio (wall and CPU).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

from orchestrator.config import load_configs  # noqa: E402  (after the path, from a checkout)
from orchestrator.discovery import discover  # noqa: E402
from orchestrator.jobs import merge, select  # noqa: E402
from orchestrator.models import RunOptions  # noqa: E402
from orchestrator.plan import build_plan  # noqa: E402

SIZES = (1, 1_000, 10_000)
SCRIPT = (
    "import argparse\np = argparse.ArgumentParser()\n"
    'p.add_argument("--output-dir")\np.add_argument("--seed", type=int)\n'
    'p.add_argument("--depth", type=int)\np.parse_args()\n'
)


def make_project(root: Path, jobs: int) -> None:
    """`jobs` planned jobs: a matrix of jobs - 1 combinations and one job needing it."""
    (root / "training").mkdir(parents=True)
    (root / "training/train_grid.py").write_text(SCRIPT)
    (root / "configs").mkdir()
    members = max(jobs - 1, 1)
    depths = 10 if members % 10 == 0 else 1
    seeds = members // depths
    (root / "configs/jobs.yaml").write_text(
        "jobs:\n  grid:\n"
        f"    matrix: {{seed: {list(range(seeds))}, depth: {list(range(depths))}}}\n"
        "    tags: [bench]\n    gates: {accuracy: '>= 0.5'}\n"
        + ("  after: {command: [echo], needs: [grid]}\n" if jobs > 1 else "")
    )


def timed_cli(root: Path, jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds of one `--dry-run`; CPU (user + system) is what the machine's
    other load changes least (it has 2 cores, shared)."""
    argv = [sys.executable, str(REPO_ROOT / "run_all_training.py"), "--dry-run"]
    argv += ["--format", "json", "--max-jobs", str(max(jobs, 1))]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    planned = done.stdout.count('"argv"')
    if done.returncode != 0 or planned != jobs:
        sys.exit(f"{jobs} jobs: exit {done.returncode}, {planned} planned\n{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def timed_in_process(root: Path, jobs: int) -> float:
    started = time.perf_counter()
    scripts, _ = discover(("training",), root)
    config = load_configs([root / "configs/jobs.yaml"], root, max_jobs=jobs)
    specs = select(merge(scripts, config, root, max_jobs=jobs), (), ())
    plan = build_plan(specs, RunOptions(max_jobs=jobs), python=sys.executable, cpu_count=2)
    elapsed = time.perf_counter() - started
    assert len(plan.jobs) == jobs, len(plan.jobs)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="bench-planning-") as tmp:
        roots = {n: Path(tmp, f"p{n}") for n in SIZES}
        for n, root in roots.items():
            make_project(root, n)
        rows = []
        for number in range(rounds):
            order = SIZES if number % 2 == 0 else tuple(reversed(SIZES))
            timings = {n: timed_cli(roots[n], n) for n in order}
            cli = {n: wall for n, (wall, _) in timings.items()}
            cpu = {n: used for n, (_, used) in timings.items()}
            inproc = {n: timed_in_process(roots[n], n) for n in order}
            per_job = {n: (cli[n] - cli[1]) / n * 1000 for n in SIZES[1:]}
            per_job_cpu = {n: (cpu[n] - cpu[1]) / n * 1000 for n in SIZES[1:]}
            per_job_in = {n: (inproc[n] - inproc[1]) / n * 1000 for n in SIZES[1:]}
            row = {
                "10k gross s": cli[10_000],
                "10k gross CPU s": cpu[10_000],
                "10k above 1 job s": cli[10_000] - cli[1],
                "ms/job 1k": per_job[1_000],
                "ms/job 10k": per_job[10_000],
                "ratio 10k/1k": per_job[10_000] / per_job[1_000],
                "CPU ratio 10k/1k": per_job_cpu[10_000] / per_job_cpu[1_000],
                "in-process ms/job 1k": per_job_in[1_000],
                "in-process ms/job 10k": per_job_in[10_000],
                "in-process ratio": per_job_in[10_000] / per_job_in[1_000],
            }
            rows.append(row)
            print(f"round {number + 1}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()))
    print("median over rounds:")
    for key in rows[0]:
        values = [row[key] for row in rows]
        print(f"  {key:24} {statistics.median(values):8.3f}  ({min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
