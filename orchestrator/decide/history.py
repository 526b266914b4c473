"""Read what `decide` needs to know of the disk: fingerprints, and the output dirs it may reuse.

Every file read for deciding happens here, before `decide`, which then only compares
values. The run resumed (`--resume`, `--rerun-failed`) is read by `orchestrator.resume`.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.decide.cache import Cache
from orchestrator.decide.decisions import History, PreviousRun
from orchestrator.decide.fingerprints import Fingerprint, changed_part, fingerprints
from orchestrator.decide.manifests import damage
from orchestrator.models import Plan


def read_history(plan: Plan, base: Path, cache: Cache, previous: PreviousRun | None) -> History:
    """The history of `plan`'s jobs: `cache` as `load_cache` read it, `previous` the run
    resumed (if any); paths are relative to `base`."""
    prints = fingerprints(plan, base, cache)
    return History(
        fingerprints=prints,
        cache=cache,
        output_damage=_output_damage(plan, base, cache, prints),
        outputs_gone=_outputs_gone(plan, base) if previous is not None else frozenset(),
        previous=previous,
    )


def _output_damage(
    plan: Plan, base: Path, cache: Cache, prints: dict[str, Fingerprint]
) -> dict[str, str]:
    """Checked only where the cache could be used: a job with a changed fingerprint, or
    one never cached, runs whatever its output dir holds, so reading it would be wasted."""
    found: dict[str, str] = {}
    for job in plan.jobs:
        entry = cache.get(job.id)
        if entry is None or not job.cache or job.sweep is not None:
            continue
        if changed_part(prints[job.id], entry.parts) is None:
            what = damage(base / job.output_dir, entry.manifest)
            if what:
                found[job.id] = what
    return found


def _outputs_gone(plan: Plan, base: Path) -> frozenset[str]:
    return frozenset(job.id for job in plan.jobs if not (base / job.output_dir).is_dir())
