"""Benchmark ``makespan``: parallel efficiency of 12 skewed CPU-bound jobs on 2 workers.

12 command jobs, each ``<python> busy.py SECONDS`` (a busy loop on the clock for that long),
of lengths 1,2,1,1,1,3,1,1,1,1,1,4 units in config (= plan) order, 1 unit = 0.3 s
(``--quick``: 0.1 s). That is the example 4,1,1,1,1,1,3,1,1,1,2,1 reversed: in the
example's own order plain FIFO is already optimal on 2 workers (makespan 9 units), so it
could not show what longest-first buys; reversed, FIFO leaves the 4-unit job alone at the
end (11 units) while longest-first still reaches 9.

Each round (3; ``--quick``: 2), in a temp project, with
``-q --no-auto-discover --parallel --max-workers 2 --cpus 2``:

1. ``FIFO``           outputs cleaned first, so there is no history: plan order;
2. ``longest-first``  outputs cleaned, ``--durations`` = a copy of run 1's
                      ``summaries/latest.json``: started longest expected first.

For each run, from its summary: parallel efficiency = sum(jobs[].duration_s) / (2 x
duration_s), the summary's makespan. Checks: 12 jobs succeeded; in the longest-first run the
first two jobs started are the 4- and 3-unit ones. The efficiency the ideal scheduler would
reach with these lengths (list scheduling on 2 workers, no overhead) is given alongside.
"""

from __future__ import annotations

import heapq
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common as c

NAME = "makespan"
TITLE = "parallel efficiency on 2 workers: FIFO vs longest-first (--durations)"
UNITS = (1, 2, 1, 1, 1, 3, 1, 1, 1, 1, 1, 4)
WORKERS = 2
TARGET = 0.95
FLAGS = ("-q", "--no-auto-discover", "--parallel", "--max-workers", "2", "--cpus", "2")
BUSY = (
    "import sys, time\n"
    "end = time.perf_counter() + float(sys.argv[1])\n"
    "while time.perf_counter() < end:\n"
    "    pass\n"
)


def ideal_makespan(lengths: Sequence[float], workers: int) -> float:
    """List scheduling in the given order: each job to the first worker that is free."""
    free = [0.0] * workers
    for length in lengths:
        heapq.heapreplace(free, free[0] + length)
    return max(free)


class Runs:
    """The two runs of a round and what they left, shared by the two variants."""

    def __init__(self, project: Path, n_jobs: int, longest_two: set[str]) -> None:
        self.project = project
        self.n_jobs = n_jobs
        self.longest_two = longest_two
        self.history = project.parent / "history.json"
        self.records: dict[str, list[dict[str, Any]]] = {"FIFO": [], "longest-first": []}

    def run(self, name: str) -> str | None:
        extra = ("--durations", str(self.history)) if name == "longest-first" else ()
        if name == "FIFO":
            self.history.unlink(missing_ok=True)
        elif not self.history.exists():
            return "no history: the FIFO run of this round left no summary"
        problem = c.orchestrate(c.orch_argv(*FLAGS, *extra), self.project, self.n_jobs)
        summary, read_problem = c.read_summary(self.project)
        if summary is None:
            self.records[name].append({})
            return problem or read_problem
        if name == "FIFO":
            shutil.copyfile(self.project / "summaries" / "latest.json", self.history)
        jobs = summary["jobs"]
        order = [j["id"] for j in sorted(jobs, key=lambda j: j["attempts"][0]["started_at"])]
        busy = sum(float(j["duration_s"]) for j in jobs)
        makespan = float(summary["duration_s"])
        self.records[name].append(
            {
                "makespan_s": makespan,
                "sum_job_s": busy,
                "efficiency": busy / (WORKERS * makespan),
                "job_durations_s": {j["id"]: j["duration_s"] for j in jobs},
                "start_order": order,
            }
        )
        if not problem and name == "longest-first" and set(order[:2]) != self.longest_two:
            problem = (
                f"longest-first started {order[:2]} first, expected {sorted(self.longest_two)}"
            )
        return problem


def run(quick: bool) -> dict[str, Any]:
    unit, rounds = (0.1, 2) if quick else (0.3, 3)
    ids = [f"job{i + 1:02d}_{units}u" for i, units in enumerate(UNITS)]
    seconds = [units * unit for units in UNITS]
    longest_two = {ids[i] for i in sorted(range(len(UNITS)), key=lambda i: -UNITS[i])[:2]}
    with tempfile.TemporaryDirectory(prefix="bench-makespan-") as tmp:
        project = Path(tmp) / "project"
        busy = project / "busy.py"
        project.mkdir()
        busy.write_text(BUSY, encoding="utf-8")
        c.write_jobs(
            project,
            {
                job_id: {"command": [sys.executable, str(busy), f"{secs:.3f}"]}
                for job_id, secs in zip(ids, seconds, strict=True)
            },
        )
        runs = Runs(project, len(ids), longest_two)
        fifo_argv = c.orch_argv(*FLAGS)
        variants = [
            c.Variant("FIFO", c.shown(fifo_argv, "<project>"), lambda: runs.run("FIFO")),
            c.Variant(
                "longest-first",
                c.shown(c.orch_argv(*FLAGS, "--durations", "<history.json>"), "<project>"),
                lambda: runs.run("longest-first"),
            ),
        ]
        c.measure(variants, rounds, "makespan", rotate=False)
    records = runs.records
    total = sum(seconds)
    ideal = {
        "FIFO": total / (WORKERS * ideal_makespan(seconds, WORKERS)),
        "longest-first": total / (WORKERS * ideal_makespan(sorted(seconds, reverse=True), WORKERS)),
    }
    derived: dict[str, dict[str, Any]] = {}
    for name in ("FIFO", "longest-first"):
        good = [r for r in records[name] if r]
        derived[f"efficiency {name}"] = c.derive(
            "sum(jobs[].duration_s) / (2 * duration_s)",
            "eff",
            [r["efficiency"] for r in good],
            ideal=ideal[name],
        )
        derived[f"makespan {name}"] = c.derive(
            "summary duration_s", "s", [r["makespan_s"] for r in good]
        )
    pairs = [
        (fifo, lpt)
        for fifo, lpt in zip(records["FIFO"], records["longest-first"], strict=True)
        if fifo and lpt
    ]
    derived["makespan longest-first / FIFO"] = c.derive(
        "longest-first duration_s / FIFO duration_s (same round)",
        "x",
        [lpt["makespan_s"] / fifo["makespan_s"] for fifo, lpt in pairs],
        ideal=ideal_makespan(sorted(seconds, reverse=True), WORKERS)
        / ideal_makespan(seconds, WORKERS),
    )
    table = c.derived_table(derived, f"derived from the summaries, {rounds} rounds, unit {unit}s")
    table["headers"].append("ideal")
    for row, record in zip(table["rows"], derived.values(), strict=True):
        row.append(c.fmt(record.get("ideal"), 3))
    lpt_eff = derived["efficiency longest-first"]
    return {
        "title": TITLE,
        "params": {
            "rounds": rounds,
            "unit_s": unit,
            "units_in_plan_order": list(UNITS),
            "jobs": dict(zip(ids, seconds, strict=True)),
        },
        "commands": {v.name: v.command for v in variants},
        "job_command": c.shown([sys.executable, "<project>/busy.py", "<seconds>"]),
        "history_json": "a copy of the same round's FIFO summaries/latest.json",
        "variants": c.variants_record(variants),
        "runs": records,
        "derived": derived,
        "tables": [c.variants_table(variants, "wall time of the orchestrator runs"), table],
        "summary": [
            c.summary_row("efficiency, FIFO (plan order, no history)", derived["efficiency FIFO"]),
            c.summary_row(
                "efficiency, longest-first (--durations)",
                lpt_eff,
                target=f">= {TARGET}",
                ok=lpt_eff["median"] is not None and lpt_eff["median"] >= TARGET,
            ),
        ],
        "problems": c.all_problems(variants),
    }
