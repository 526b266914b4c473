"""Benchmark ``journal``: what the event journal costs per job.

N ``/bin/true`` command jobs (300; ``--quick``: 60) in a temp project, run with
``-q --no-auto-discover``, interleaved over rounds (7; ``--quick``: 2):

* ``journal on``   the default: every event is a flushed JSON line in
                   ``summaries/journal_<UTC>.jsonl``;
* ``--no-journal`` no journal.

Per round: ``(on - off) / N`` in ms per job, and ``on / off``. Checks: N succeeded jobs,
and a journal file exists after the default run and none after ``--no-journal``.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "journal"
TITLE = "event journal on vs --no-journal, /bin/true jobs, sequential"
FLAGS = ("-q", "--no-auto-discover")


def run_variant(argv: list[str], project: Path, n_jobs: int, journal: bool) -> str | None:
    problem = c.orchestrate(argv, project, n_jobs)
    if problem:
        return problem
    found = list((project / "summaries").glob("journal_*.jsonl"))
    if journal and not found:
        return "no summaries/journal_*.jsonl after a run with the journal on"
    if not journal and found:
        return f"--no-journal left {found[0].name}"
    return None


def run(quick: bool) -> dict[str, Any]:
    n_jobs, rounds = (60, 2) if quick else (300, 7)
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        project = Path(tmp)
        c.write_jobs(project, c.noop_jobs(["/bin/true"], n_jobs))
        variants = []
        for name, extra, journal in (
            ("journal on", (), True),
            ("--no-journal", ("--no-journal",), False),
        ):
            argv = c.orch_argv(*FLAGS, *extra)
            variants.append(
                c.Variant(
                    name,
                    c.shown(argv, "<project>") + f"   # {n_jobs} jobs: /bin/true",
                    partial(run_variant, argv, project, n_jobs, journal),
                    prepare=partial(c.clean_outputs, project),
                )
            )
        c.measure(variants, rounds, "journal")
    by_name = {v.name: v for v in variants}
    derived = {
        "journal on - off": c.derive(
            "(journal on - --no-journal) / N * 1000",
            "ms/job",
            c.per_round(
                by_name, ["journal on", "--no-journal"], lambda a, b: (a - b) / n_jobs * 1000
            ),
        ),
        "journal on / off": c.derive(
            "journal on / --no-journal",
            "x",
            c.per_round(by_name, ["journal on", "--no-journal"], lambda a, b: a / b),
        ),
    }
    return {
        "title": TITLE,
        "params": {"jobs": n_jobs, "rounds": rounds},
        "commands": {v.name: v.command for v in variants},
        "variants": c.variants_record(variants),
        "derived": derived,
        "tables": [
            c.variants_table(variants, f"wall time, {n_jobs} jobs x {rounds} rounds"),
            c.derived_table(derived, "derived, per round"),
        ],
        "summary": [
            c.summary_row("journal on - --no-journal, per job", derived["journal on - off"])
        ],
        "problems": c.all_problems(variants),
    }
