"""Benchmark ``oversubscription``: two parallel LightGBM jobs with and without thread caps.

Two jobs run the bundled ``training/train_lightgbm_forecast.py`` (100 boosting rounds,
3 folds, ``--days 120``; ``--quick``: 50 rounds), different seeds, on
``-q --no-auto-discover --parallel --max-workers 2 --cpus 2``, in two temp projects:

* ``capped``    the default: each job has ``cpus: 1``, so the orchestrator sets its
                ``OMP_NUM_THREADS`` (and MKL, OpenBLAS, ...) to 1: 2 threads on 2 cores;
* ``uncapped``  ``env: {OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS: <all
                CPUs>}`` per job, which the orchestrator leaves alone: each job uses every
                core, 2 x CPUs threads on the CPUs.

Interleaved over rounds (3; ``--quick``: 2). Per round: ``uncapped / capped`` wall time
(the headline), and the same for the summary's ``duration_s`` and the mean job time.

Oversubscribed LightGBM (OpenMP threads spinning at barriers while their peers are
descheduled) is not just slower but erratic: the same uncapped run took 2 s in one round and
136 s in the next while this was written. So every job has ``timeout: 20`` (``--quick``:
15) and ``grace: 1``: an uncapped round that hits it counts with its (cut) time, and the
ratio is then a lower bound, which the summary says. Checks: capped jobs succeed,
uncapped ones succeed or time out, and each finished job's ``params.json`` records the
thread count meant for it (1 capped, CPUs uncapped).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "oversubscription"
TITLE = "two parallel LightGBM jobs: thread caps (cpus: 1) vs every job on all cores"
SCRIPT = c.REPO_ROOT / "training" / "train_lightgbm_forecast.py"
FLAGS = ("-q", "--no-auto-discover", "--parallel", "--max-workers", "2", "--cpus", "2")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def jobs_config(epochs: int, timeout: float, env: dict[str, str] | None) -> dict[str, Any]:
    jobs: dict[str, dict[str, Any]] = {}
    for index, job_id in enumerate(("lgb_a", "lgb_b")):
        fields: dict[str, Any] = {
            "script": str(SCRIPT),
            "epochs": epochs,
            "folds": 3,
            "seed": index + 1,
            "args": {"days": 120},
            "timeout": timeout,
            "grace": 1,
        }
        if env:
            fields["env"] = env
        jobs[job_id] = fields
    return jobs


@dataclass
class Record:
    """What the summaries said, per round, for one variant."""

    in_run_s: list[float] = field(default_factory=list)
    mean_job_s: list[float] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)


def run_variant(project: Path, threads: int, may_time_out: bool, record: Record) -> str | None:
    """One run; timed-out jobs are a finding for the uncapped variant, a problem otherwise."""
    argv = c.orch_argv(*FLAGS)
    c.clean_outputs(project)
    code, output, problem = c.run_quiet(argv, project)
    summary, read_problem = c.read_summary(project)
    if summary is None:
        return problem or read_problem
    statuses = {j["id"]: j["status"] for j in summary["jobs"]}
    timed_out = sorted(i for i, status in statuses.items() if status == "timed_out")
    record.in_run_s.append(float(summary["duration_s"]))
    record.mean_job_s.append(statistics.mean(float(j["duration_s"]) for j in summary["jobs"]))
    record.timed_out.append(len(timed_out))
    bad = {i: s for i, s in statuses.items() if s not in {"succeeded", "timed_out"}}
    if bad or len(statuses) != 2 or (timed_out and not may_time_out):
        return f"job statuses {statuses}; {problem or ''}".strip()
    if code != (1 if timed_out else 0):
        return problem or f"exit code {code}:\n{c.tail(output)}"
    for job_id in sorted(set(statuses) - set(timed_out)):
        params_file = project / "results" / f"{job_id}_results" / "params.json"
        try:
            used = json.loads(params_file.read_text(encoding="utf-8")).get("threads")
        except (OSError, ValueError) as exc:
            return f"cannot read {params_file}: {exc}"
        if used != threads:
            return f"{job_id} used {used} threads, expected {threads}"
    return None


def ratios(tops: list[float], bottoms: list[float]) -> list[float]:
    """Round by round: each round's first figure over its second."""
    return [top / bottom for top, bottom in zip(tops, bottoms, strict=True)]


def run(quick: bool) -> dict[str, Any]:
    epochs, rounds, timeout = (50, 2, 15.0) if quick else (100, 3, 20.0)
    cpus = os.cpu_count() or 1
    uncapped_env = dict.fromkeys(THREAD_VARS, str(cpus))
    records = {"capped": Record(), "uncapped": Record()}
    with tempfile.TemporaryDirectory(prefix="bench-oversub-") as tmp:
        variants = []
        for name, env, threads in (("capped", None, 1), ("uncapped", uncapped_env, cpus)):
            project = Path(tmp) / name
            c.write_jobs(project, jobs_config(epochs, timeout, env))
            variants.append(
                c.Variant(
                    name,
                    c.shown(c.orch_argv(*FLAGS), f"<{name} project>")
                    + f"   # 2 jobs: {SCRIPT.name} --epochs {epochs} --folds 3 --days 120"
                    + f", timeout {timeout:.0f}"
                    + (f", env {env}" if env else ", default cpus: 1"),
                    partial(run_variant, project, threads, name == "uncapped", records[name]),
                )
            )
        c.measure(variants, rounds, "oversubscription")
    by_name = {v.name: v for v in variants}
    capped, uncapped = records["capped"], records["uncapped"]
    aligned = len(capped.in_run_s) == len(uncapped.in_run_s) == rounds
    censored = sum(n > 0 for n in uncapped.timed_out)
    derived = {
        "uncapped / capped, wall": c.derive(
            "uncapped wall / capped wall",
            "x",
            c.per_round(by_name, ["uncapped", "capped"], lambda u, k: u / k),
        ),
        "uncapped / capped, in-run": c.derive(
            "uncapped duration_s / capped duration_s",
            "x",
            ratios(uncapped.in_run_s, capped.in_run_s) if aligned else [],
        ),
        "uncapped / capped, mean job": c.derive(
            "mean job duration_s uncapped / capped",
            "x",
            ratios(uncapped.mean_job_s, capped.mean_job_s) if aligned else [],
        ),
        "uncapped - capped, wall": c.derive(
            "uncapped wall - capped wall",
            "s",
            c.per_round(by_name, ["uncapped", "capped"], lambda u, k: u - k),
        ),
    }
    note = (
        f"{censored} of {rounds} uncapped rounds hit the {timeout:.0f}s job timeout: "
        "those ratios are lower bounds"
        if censored
        else ""
    )
    return {
        "title": TITLE,
        "params": {
            "rounds": rounds,
            "epochs": epochs,
            "cpus": cpus,
            "job_timeout_s": timeout,
            "uncapped_env": uncapped_env,
            "script": str(SCRIPT),
        },
        "commands": {v.name: v.command for v in variants},
        "variants": c.variants_record(variants),
        "summaries": {name: vars(record) for name, record in records.items()},
        "derived": derived,
        "note": note,
        "tables": [
            c.variants_table(variants, f"wall time, {rounds} rounds, {cpus} CPUs"),
            c.derived_table(derived, "derived, per round" + (f"; NOTE {note}" if note else "")),
        ],
        "summary": [
            {
                **c.summary_row("wall time, uncapped / capped", derived["uncapped / capped, wall"]),
                "note": f">= (timeout in {censored}/{rounds} rounds)" if censored else "",
            }
        ],
        "problems": c.all_problems(variants),
    }
