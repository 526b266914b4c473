"""Decide: before a run, which jobs run and which earlier results stand (cached, reused).

- `decisions`: `decide(plan, history) -> Decisions`, pure;
- `history`: reads what `decide` needs of the disk into a `History` value;
- `cache`: `.train_orch/cache.json`, every job's last recorded success;
- `fingerprints`: what a job's result depends on, part by part;
- `manifests`: what a success left in its output dir, and whether it is still there.

Nothing here imports execute/ or report/: they come after.
"""

from __future__ import annotations

from orchestrator.decide.decisions import (
    Decisions,
    History,
    Leftover,
    PreviousRun,
    decide,
    is_forced,
    study_identity,
)

__all__ = [
    "Decisions",
    "History",
    "Leftover",
    "PreviousRun",
    "decide",
    "is_forced",
    "study_identity",
]
