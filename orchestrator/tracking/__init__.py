"""Experiment tracking in MLflow (issue 20): a parent run per orchestrator run, a child run
per job, and `register:`'s model versions.

- `settings`: config, flags and env → `Tracking` (pure);
- `content`: params, tags, metrics, artifacts as plain values (pure);
- `worker`: the one thread that calls MLflow, with retries and backoff;
- `session`: the MLflow calls; `registry`: the Model Registry's;
- here: `TrackedRun`, what `run.py` wires in: an event sink, a backend that gives each
  job its run's variables, and the outcome for the summary.

Nothing here imports MLflow at import time; `run.py` imports this package only for a run
with tracking on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.decide.cache import STATE_DIR
from orchestrator.events import Event, JobFinished
from orchestrator.execute.backend import Backend
from orchestrator.execute.ending import ProcessEnd
from orchestrator.models import JobResult, Plan, PlannedJob, Status
from orchestrator.tracking import content
from orchestrator.tracking.session import Session
from orchestrator.tracking.settings import Tracking, resolve
from orchestrator.tracking.worker import Worker
from orchestrator.usage import UsageSoFar

__all__ = ["TrackedRun", "Tracking", "resolve"]

#: Under the state dir: each orchestrator run's MLflow parent run, for --resume.
PARENTS_FILE = "mlflow_runs.json"
#: The longest the end of a run waits for the queued calls (artifacts of the last jobs).
FLUSH_WAIT = 120.0


class TrackedRun:
    """One orchestrator run as MLflow sees it; every MLflow call is on the worker."""

    def __init__(
        self,
        tracking: Tracking,
        plan: Plan,
        *,
        run_id: str,
        header: Mapping[str, Any],
        resumed: str | None,
        environ: Mapping[str, str],
        worker: Worker | None = None,
    ) -> None:
        self.tracking = tracking
        self.run_id = run_id
        self._state = Path(plan.output_root, STATE_DIR, PARENTS_FILE)
        self._jobs = {job.id: job for job in plan.jobs}
        secrets = {value for job in plan.jobs for value in job.secrets}
        header = {**header, "git_branch": _branch(Path(".git/HEAD"))}
        self.session = Session(
            tracking,
            run_name=f"run-all-training {run_id}",
            parent_tags=content.parent_tags(header, environ, secrets),
            resume_parent=self._parents().get(resumed) if resumed else None,
            worker=worker,
        )

    def ready(self) -> bool:
        return self.session.ready()

    # ------------------------------------------------------------------ the event sink
    def emit(self, event: Event) -> None:
        if isinstance(event, JobFinished) and event.result.status is not Status.REUSED:
            result = event.result
            sweep = self._sweep_of(result.job)
            self.session.job_finished(result, sweep, result.status is Status.PRUNED)

    def _sweep_of(self, job: PlannedJob) -> PlannedJob | None:
        """A trial's sweep job (its tag `sweep:<id>`), else None."""
        for tag in job.tags:
            if tag.startswith("sweep:") and tag[len("sweep:") :] in self._jobs:
                return self._jobs[tag[len("sweep:") :]]
        return None

    # -------------------------------------------------------------------- the backend
    def backend(self, inner: Backend) -> Backend:
        return _TrackedBackend(inner, self)

    def job_env(self, job: PlannedJob) -> PlannedJob:
        """The job with its MLflow run's variables, when its run was created in time."""
        extra = self.session.child_env(job, self._sweep_of(job))
        if not extra:
            return job
        from dataclasses import replace

        return replace(job, env=(*((k, v) for k, v in job.env if k not in extra), *extra.items()))

    # ------------------------------------------------------------------------ the end
    def finish(self, results: Sequence[JobResult], exit_code: int, at: float) -> dict[str, Any]:
        """End the parent run, wait (bounded) for every queued call; the summary's field."""
        self.session.run_finished(
            content.verdict_tags(results, exit_code), content.parent_status(exit_code), at
        )
        self.session.worker.close(FLUSH_WAIT)
        worker = self.session.worker
        parent = self.session.parent
        if parent:
            self._remember(parent)
        outcome: dict[str, Any] = {
            "uri": self.tracking.uri,
            "experiment": self.tracking.experiment,
            "experiment_id": self.session.experiment_id,
            "parent_run_id": parent,
            "runs": dict(self.session.runs),
            "status": f"failed — {worker.failure}" if worker.failure else "ok",
            "waited_s": {name: round(s, 3) for name, s in self.session.waited.items()},
        }
        if self.tracking.ui_url:
            outcome["ui_url"] = self.tracking.ui_url
        if worker.notes:
            outcome["notes"] = list(worker.notes)
        if self.session.registered or self.session.not_registered:
            outcome["registered"] = {**self.session.not_registered, **self.session.registered}
        return outcome

    def _parents(self) -> dict[str, str]:
        try:
            found = json.loads(self._state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def _remember(self, parent: str) -> None:
        """This run's parent, beside the earlier ones: best effort, like a cache."""
        parents = {**self._parents(), self.run_id: parent}
        tmp = self._state.with_name(f".{PARENTS_FILE}.{os.getpid()}.tmp")
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(parents, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self._state)
        except OSError:
            tmp.unlink(missing_ok=True)


def _branch(head: Path) -> str | None:
    """The checked-out branch, read from `.git/HEAD` (the run's cwd is the project root)."""
    try:
        text = head.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: refs/heads/") else None


class _TrackedBackend:
    """The run's backend, each job started with its MLflow run's variables."""

    def __init__(self, inner: Backend, tracked: TrackedRun) -> None:
        self.inner = inner
        self.tracked = tracked

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None:
        self.inner.start(self.tracked.job_env(job), header, fresh_log=fresh_log)

    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]:
        return self.inner.wait(timeout)

    def wake(self) -> None:
        self.inner.wake()

    def stop(self, key: str) -> None:
        self.inner.stop(key)

    def cancel_all(self) -> None:
        self.inner.cancel_all()

    def kill_all(self) -> None:
        self.inner.kill_all()

    def close(self) -> None:
        self.inner.close()

    def usage_so_far(self) -> Mapping[str, UsageSoFar]:
        return self.inner.usage_so_far()
