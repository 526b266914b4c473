"""Benchmark ``tracking``: what MLflow tracking (the embedded SQLite store) costs a run.

Two sizes of run, N small and N large ``/bin/true`` command jobs (5 and 40; ``--quick``:
3 and 12) in a temp project, ``-q --no-auto-discover``, tracked (``--mlflow``: the
default store under the project) and not, interleaved over rounds (3; ``--quick``: 2).
The store is created by an untimed run first: its schema takes seconds once per output
root, which the README states apart.

Per round:

* per job: ``((on_L - off_L) - (on_S - off_S)) / (L - S)`` in ms: a child run created
  before each job starts, and its params, tags, metrics, log and outputs sent after it;
* fixed: ``(on_S - off_S) - S * per job`` in s: importing MLflow, connecting, the parent
  run, and waiting for the last calls at the end;
* the tracked run's wall time over the untracked one's, for L jobs.
"""

from __future__ import annotations

import importlib.util
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "tracking"
TITLE = "MLflow tracking (embedded SQLite store): its cost per job and per run"
FLAGS = ("-q", "--no-auto-discover")


def run_way(argv: list[str], project: Path, n_jobs: int) -> str | None:
    c.clean_outputs(project)
    _, _, problem = c.run_quiet(argv, project)
    return problem or c.check_summary(project, n_jobs) or _tracked_ok(project, argv)


def _tracked_ok(project: Path, argv: list[str]) -> str | None:
    """A tracked run must say its tracking went well; an untracked one has no field."""
    summary, problem = c.read_summary(project)
    if summary is None:
        return problem
    status = (summary.get("tracking") or {}).get("status")
    expected = "ok" if "--mlflow" in argv else None
    return None if status == expected else f"tracking status {status!r}"


def run(quick: bool) -> dict[str, Any]:
    if importlib.util.find_spec("mlflow") is None:
        return {"title": TITLE, "absent": "mlflow not installed (pip install '.[mlflow]')"}
    small, large, rounds = (3, 12, 2) if quick else (5, 40, 3)
    variants = []
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        for n_jobs in (small, large):
            project = Path(tmp, f"n{n_jobs}")
            c.write_jobs(project, c.noop_jobs(["/bin/true"], n_jobs))
            for way, extra in (("on", ("--mlflow",)), ("off", ())):
                argv = c.orch_argv(*FLAGS, *extra)
                if extra:  # the store's schema, once, untimed
                    c.run_quiet(argv, project)
                variants.append(
                    c.Variant(
                        f"{way}, {n_jobs} jobs",
                        c.shown(argv, "<project>") + f"   # {n_jobs} jobs: /bin/true",
                        partial(run_way, argv, project, n_jobs),
                    )
                )
        c.measure(variants, rounds, NAME)
    by_name = {v.name: v for v in variants}
    names = [f"on, {small} jobs", f"off, {small} jobs", f"on, {large} jobs", f"off, {large} jobs"]

    def per_job(on_s: float, off_s: float, on_l: float, off_l: float) -> float:
        return ((on_l - off_l) - (on_s - off_s)) / (large - small) * 1000

    def fixed(on_s: float, off_s: float, on_l: float, off_l: float) -> float:
        return (on_s - off_s) - small * per_job(on_s, off_s, on_l, off_l) / 1000

    derived = {
        "per job": c.derive(
            "((on_L - off_L) - (on_S - off_S)) / (L - S) * 1000",
            "ms/job",
            c.per_round(by_name, names, per_job),
        ),
        "per run": c.derive(
            "(on_S - off_S) - S * per job", "s", c.per_round(by_name, names, fixed)
        ),
        f"on / off, {large} jobs": c.derive(
            "wall on / wall off",
            "x",
            c.per_round(by_name, names[2:], lambda on, off: on / off),
        ),
    }
    return {
        "title": TITLE,
        "params": {"small": small, "large": large, "rounds": rounds},
        "variants": c.variants_record(variants),
        "derived": derived,
        "problems": c.all_problems(variants),
        "tables": [
            c.variants_table(variants, f"wall time, {rounds} rounds"),
            c.derived_table(derived, "tracking's cost, per round"),
        ],
        "summary": [c.summary_row(label, row) for label, row in derived.items()],
    }
