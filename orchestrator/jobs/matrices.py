"""A matrix job → one job per combination (`forest[seed=0,depth=4]`), and needs on it
→ needs on every combination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.models import DEFAULT_MAX_JOBS, JobSpec, Pairs

#: Matrix axes that set a job's own integer field instead of becoming a flag.
MATRIX_INTS = ("epochs", "folds", "seed")


def expand_matrices(
    specs: Sequence[JobSpec], *, max_jobs: int = DEFAULT_MAX_JOBS
) -> tuple[JobSpec, ...]:
    """Each matrix job becomes its combinations; a need on it becomes a need on them all
    (once: `needs: [forest, forest[seed=0]]` must not wait for, or count, a job twice)."""
    count = sum(len(s.matrix) or 1 for s in specs)
    if count > max_jobs:
        raise OrchestratorError(
            f"{count:,} jobs once matrices are expanded, more than --max-jobs {max_jobs:,}; "
            "raise --max-jobs to plan them all"
        )
    members = {s.id: [matrix_member(s, combo) for combo in s.matrix] for s in specs if s.matrix}
    expanded = [m for s in specs for m in members.get(s.id, [s])]
    return tuple(_with_needs_expanded(s, members) for s in expanded)


def _with_needs_expanded(spec: JobSpec, members: Mapping[str, list[JobSpec]]) -> JobSpec:
    needs = tuple(
        dict.fromkeys(
            n
            for need in spec.needs
            for n in ([m.id for m in members[need]] if need in members else [need])
        )
    )
    # Most jobs' needs are already so: copying a job is the dearer part of planning it.
    return spec if needs == spec.needs else replace(spec, needs=needs)


def matrix_member(spec: JobSpec, combo: Pairs) -> JobSpec:
    """`forest` + (seed=0, max_depth=4) → `forest[seed=0,max_depth=4]`, tagged `matrix:forest`.

    Standard flags (epochs, folds, seed) set the job's own fields so they are never passed
    twice; other keys become flags, overriding the same key in `args`.
    """
    values = dict(combo)
    standard: dict[str, Any] = {k: int(v) for k, v in values.items() if k in MATRIX_INTS}
    others = {k: v for k, v in values.items() if k not in standard}
    params = tuple((k, v) for k, v in spec.params if k not in others) + tuple(others.items())
    label = ",".join(f"{k}={v}" for k, v in combo)
    return replace(
        spec,
        id=f"{spec.id}[{label}]",
        matrix=(),
        params=params,
        tags=(*spec.tags, f"matrix:{spec.id}"),
        **standard,
    )
