"""Records each real success (fingerprint + output manifest) for the next run's cache.

The manifest is taken when the job finishes; the cache file is rewritten once, when the
run ends, off the per-job path. A run killed with SIGKILL loses this run's entries: that
only costs re-running those jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.decide import Decisions
from orchestrator.decide.cache import CACHE_FILE, STATE_DIR, CacheEntry, cache_text, load_cache
from orchestrator.decide.manifests import manifest
from orchestrator.events import Event, JobFinished, RunFinished
from orchestrator.models import Plan, Status
from orchestrator.report.summary import write_atomic


class CacheRecorder:
    """A sink of run events: a success becomes its job's cache entry."""

    def __init__(self, plan: Plan, decisions: Decisions, base: Path, run_id: str) -> None:
        self.path = base / plan.output_root / STATE_DIR / CACHE_FILE
        self.decisions = decisions
        self.base = base
        self.run_id = run_id
        self.pending: dict[str, CacheEntry] = {}

    def emit(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.flush()
            return
        if not isinstance(event, JobFinished) or event.result.status is not Status.SUCCEEDED:
            return
        job = event.result.job
        if job.id not in self.decisions.fingerprints:
            return  # a sweep trial: its sweep is what gets cached, not each trial
        self.pending[job.id] = CacheEntry(
            run_id=self.run_id,
            parts=self.decisions.fingerprints[job.id],
            manifest=manifest(self.base / job.output_dir),
            metrics=dict(event.result.metrics),
            finished_at=time.time(),
        )

    def flush(self) -> None:
        if not self.pending or self.path.parent.is_symlink():
            return  # a job made .train_orch a symlink: the cache is not written out there
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            cache = {**load_cache(self.path)[0], **self.pending}  # warned of when decided
            write_atomic(self.path, cache_text(cache), durable=False)
        except OSError:
            return  # a cache: without it the next run just runs those jobs again
        self.pending.clear()
