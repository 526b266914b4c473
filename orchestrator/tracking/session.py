"""The MLflow side of a tracked run: the parent run, a child run per job, what each logs.

Every call goes through the `Worker`'s thread; the methods here that the scheduling
thread calls only queue work, and `child_env` waits a bounded time for its run's id.
MLflow is imported in that thread, when the run starts: never for --help, --list or a
run without tracking.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.models import JobResult, PlannedJob, Status
from orchestrator.tracking import content
from orchestrator.tracking.settings import Tracking
from orchestrator.tracking.worker import Rejected, Worker, wait_for

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: How long the first job waits for this machine's part: importing MLflow, and opening a
#: local store (its SQLite schema on first use: seconds on a busy machine).
CONNECT_WAIT = 60.0
#: How long the first job waits for a server's first answers (the experiment, the parent
#: run: two to four calls). A healthy server answers each in milliseconds; one on this
#: loaded 2-core machine took 3.3 s for all. Silent that long, it is given up for the run.
SERVER_WAIT = 10.0
#: How long each later job waits for its run (one call); past it, the job starts without
#: its run id, and the jobs after it do not wait behind it.
JOB_WAIT = 5.0
#: The same for a local store: no network to hang, only a busy disk or CPU.
RUN_WAIT = 10.0
#: MLflow's settings for our client, set as its defaults in this process, not in
#: os.environ, which the jobs inherit (a script's own MLflow calls keep MLflow's), and a
#: user's variable still wins. Its HTTP retries (7, with backoff: minutes) are off: the
#: worker retries, and gives up in seconds, so a dead server cannot hold the run. Its
#: "View run at" lines are not our console's, and cost a read of the run per job.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 0,
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 10,
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": True,
}
#: Refusals of one call's content, not of the server: noted, never retried.
_CONTENT_ERRORS = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"}


def ms(seconds: float) -> int:
    return int(seconds * 1000)


class Session:
    def __init__(
        self,
        tracking: Tracking,
        *,
        run_name: str,
        parent_tags: Mapping[str, str],
        resume_parent: str | None,
        worker: Worker | None = None,
    ) -> None:
        self.tracking = tracking
        self.worker = worker or Worker()
        self._client: MlflowClient | None = None
        self.experiment_id: str | None = None
        #: Each job's run id, by job id (written by the worker thread).
        self.runs: dict[str, str] = {}
        #: Model versions registered, by job id ("name version 3"), and why others were not.
        self.registered: dict[str, str] = {}
        self.not_registered: dict[str, str] = {}
        self._run_futures: dict[str, Future[Any]] = {}
        #: A job's run that missed its wait and is not made yet: later jobs do not wait
        #: behind it, so a server gone silent costs the run one wait, not one per job.
        self._behind: Future[Any] | None = None
        #: Seconds the scheduling thread waited: for MLflow (its import, a local store),
        #: and for the server.
        self.waited = {"loading": 0.0, "server": 0.0}
        #: Set once this machine's part of connecting is done (or connecting ended).
        self._loaded = threading.Event()
        self._connected = self.worker.submit(
            "connecting to " + tracking.uri,
            lambda: self._connect(run_name, parent_tags, resume_parent),
        )
        self._connected.add_done_callback(lambda _: self._loaded.set())

    @property
    def parent(self) -> str | None:
        """The parent run's id once connected; None until then or when that failed."""
        done = self._connected.done() and self._connected.result()
        return str(done) if done else None

    # ----------------------------------------------------------------- scheduling thread
    def ready(self) -> bool:
        """Wait (bounded) for the store and the parent run: before the first job starts,
        so its start time, and the log header's, are when it really started. A server
        that does not answer in time is given up: the jobs start, untracked."""
        began = time.monotonic()
        self._loaded.wait(CONNECT_WAIT)
        loaded = time.monotonic()
        self.waited["loading"] += loaded - began
        bound = CONNECT_WAIT - (loaded - began) if self.tracking.local else SERVER_WAIT
        parent = wait_for(self._connected, max(bound, 0.0))
        self.waited["server"] += time.monotonic() - loaded
        if not self._connected.done():
            said = self.worker.last_error or "no answer"
            waited = CONNECT_WAIT if self.tracking.local else SERVER_WAIT
            self.worker.abandon(
                f"connecting to {self.tracking.uri}: {said} (given up after {waited:g}s,"
                " the jobs started untracked)"
            )
        return parent is not None

    def child_env(self, job: PlannedJob, sweep: PlannedJob | None) -> dict[str, str]:
        """MLflow's variables for the job's process, its run created first, so the
        script's own `mlflow.start_run()` logs into it. Empty if the run is not there in
        time: the job starts anyway, and is logged when it ends."""
        if self.parent is None:  # not connected: given up, or ready() waited its bound
            return {}
        future = self._run_futures.get(job.id)
        if future is None:
            future = self._run_futures[job.id] = self.worker.submit(
                f"creating the run of {job.id}",
                lambda: self._child(job, sweep, time.time()),
                urgent=True,
            )
        if self._behind is not None and not self._behind.done():
            return self._late(job, future, "an earlier job's run is not made yet")
        bound = RUN_WAIT if self.tracking.local else JOB_WAIT
        began = time.monotonic()
        run_id = wait_for(future, bound)
        self.waited["server"] += time.monotonic() - began
        if run_id is None:
            return self._late(job, future, f"its run was not made within {bound:g}s")
        return {
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_TRACKING_URI": self.tracking.uri,
            "MLFLOW_EXPERIMENT_ID": str(self.experiment_id),
            "MLFLOW_EXPERIMENT_NAME": self.tracking.experiment,
        }

    def _late(self, job: PlannedJob, future: Future[Any], why: str) -> dict[str, str]:
        """No run id for this job: it starts without one (a script's own MLflow run is
        then its own), and the summary says so; unless tracking has failed, which says."""
        if not future.done():
            self._behind = future
        if self.worker.failure is None:
            self.worker.notes.append(f"{job.id} started without MLFLOW_RUN_ID: {why}")
        return {}

    def job_finished(self, result: JobResult, sweep: PlannedJob | None, pruned: bool) -> None:
        self.worker.submit(
            f"logging {result.job.id}", lambda: self._log_job(result, sweep, pruned, time.time())
        )

    def run_finished(self, tags: Mapping[str, str], status: str, at: float) -> None:
        self.worker.submit("ending the parent run", lambda: self._end_parent(tags, status, at))

    # ----------------------------------------------------------------- the worker thread
    def _connect(self, run_name: str, tags: Mapping[str, str], resume_parent: str | None) -> str:
        warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
        from mlflow import environment_variables
        from mlflow.tracking import MlflowClient

        for name, value in CLIENT_DEFAULTS.items():
            getattr(environment_variables, name).default = value
        # Our console is the run's: MLflow's INFO lines ("Creating initial MLflow database
        # tables...") and its deprecation warnings are not the user's business. Set after
        # the import, which configures MLflow's logger.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)

        client = self._client = MlflowClient(tracking_uri=self.tracking.uri)
        if not self.tracking.local:
            self._loaded.set()  # what follows is the server's part
        self.experiment_id = _call(lambda: self._experiment(client))
        if resume_parent and _call(lambda: self._reopen(client, resume_parent)):
            return resume_parent
        run = _call(
            lambda: client.create_run(
                str(self.experiment_id),
                start_time=ms(time.time()),
                tags=dict(tags),
                run_name=run_name,
            )
        )
        return str(run.info.run_id)

    def _experiment(self, client: MlflowClient) -> str:
        found = client.get_experiment_by_name(self.tracking.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        return str(
            client.create_experiment(
                self.tracking.experiment, artifact_location=self.tracking.artifact_location
            )
        )

    def _reopen(self, client: MlflowClient, run_id: str) -> bool:
        """The resumed run's parent, RUNNING again; False if it is gone or elsewhere."""
        from mlflow.exceptions import MlflowException

        try:
            run = client.get_run(run_id)
        except MlflowException:
            return False
        if run.info.experiment_id != self.experiment_id:
            return False
        client.update_run(run_id, status="RUNNING")
        return True

    def _child(self, job: PlannedJob, sweep: PlannedJob | None, at: float) -> str:
        """The job's run under the parent (a trial's: under its sweep's run)."""
        if job.id in self.runs:
            return self.runs[job.id]
        parent = self.parent
        if sweep is not None:
            parent = self._child(sweep, None, at)
        client = self._require_client()
        tags = {"mlflow.parentRunId": str(parent), "orchestrator.job_id": job.id}
        run = _call(
            lambda: client.create_run(
                str(self.experiment_id), start_time=ms(at), tags=tags, run_name=job.id
            )
        )
        self.runs[job.id] = run.info.run_id
        return str(run.info.run_id)

    def _log_job(
        self, result: JobResult, sweep: PlannedJob | None, pruned: bool, at: float
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        job = result.job
        span = content.attempts_span(result)
        run_id = self._child(job, sweep, span[0] if span else at)
        client = self._require_client()
        tags = content.trial_tags(result, pruned) if sweep else content.job_tags(result)
        end = span[1] if span else at
        metrics = [Metric(k, v, ms(end), 0) for k, v in content.final_metrics(result).items()]
        since = span[0] if span else at
        metrics += [
            Metric(name, value, ms(end), step)
            for name, value, step in content.progress_points(job.output_dir, since)
        ]
        params = [Param(k, v) for k, v in content.job_params(job).items()]
        items: list[Any] = [*params, *(RunTag(k, v) for k, v in tags.items()), *metrics]
        self._log_batches(client, run_id, job.id, items)
        if result.attempts:
            self._log_files(client, run_id, job)
        status = content.run_status(result.status)
        _call(lambda: client.set_terminated(run_id, status, end_time=ms(end)))
        if job.register is not None and result.status is not Status.REUSED:
            from orchestrator.tracking.registry import register

            self._register_outcome(job.id, register(client, run_id, result, self.tracking))

    def _log_batches(
        self, client: MlflowClient, run_id: str, job_id: str, items: Sequence[Any]
    ) -> None:
        """Everything in as few calls as log_batch takes. A script that logged a param of
        its own with another value makes its batch refused: the script's value stays,
        and the batch goes again without it. Asked only then, not before every job: the
        run's params cost a full read of the run."""
        from mlflow.entities import Param

        existing: Mapping[str, str] | None = None
        for batch in _batches(items):
            try:
                _call(lambda b=batch: _log_batch(client, run_id, b))
            except Rejected as refused:
                if existing is None:
                    existing = _call(lambda: client.get_run(run_id)).data.params
                kept = [i for i in batch if not (isinstance(i, Param) and i.key in existing)]
                if len(kept) == len(batch):  # not about the script's params: the content
                    self.worker.notes.append(f"logging {job_id}: {refused}")
                    continue
                self._soft(f"logging {job_id}", lambda b=kept: _log_batch(client, run_id, b))

    def _register_outcome(self, job_id: str, outcome: tuple[bool, str]) -> None:
        done, text = outcome
        (self.registered if done else self.not_registered)[job_id] = text

    def _log_files(self, client: MlflowClient, run_id: str, job: PlannedJob) -> None:
        """The log, then the output dir's files that the globs and the cap let through;
        a file holding one of the job's secrets is left out, and said so."""
        config = self.tracking.config
        if Path(job.log_path).is_file():
            _call(lambda: client.log_artifact(run_id, job.log_path, "logs"))
        files, notes = content.artifact_files(
            job.output_dir, config.include, config.exclude, config.max_artifact_bytes
        )
        for path in files:
            if content.holds_secret(path, job.secrets):
                notes.append(f"{path.name} not uploaded: it holds a secret")
                continue
            folder = path.parent.relative_to(job.output_dir).as_posix()
            where = "outputs" if folder == "." else f"outputs/{folder}"
            self._soft(
                f"uploading {path}",
                lambda p=path, w=where: client.log_artifact(run_id, str(p), w),
            )
        if notes:
            left_out = "; ".join(notes)[: content.MAX_TAG_VALUE]
            _call(lambda: client.set_tag(run_id, "orchestrator.artifacts_left_out", left_out))

    def _soft(self, what: str, action: Any) -> None:
        """`action()`; a refusal of its content is noted and the job's logging goes on."""
        try:
            _call(action)
        except Rejected as refused:
            self.worker.notes.append(f"{what}: {refused}")

    def _end_parent(self, tags: Mapping[str, str], status: str, at: float) -> None:
        from mlflow.entities import RunTag

        client = self._require_client()
        parent = str(self.parent)
        batch = [RunTag(k, v) for k, v in tags.items()]
        _call(lambda: client.log_batch(parent, tags=batch))
        _call(lambda: client.set_terminated(parent, status, end_time=ms(at)))

    def _require_client(self) -> MlflowClient:
        if self._client is None or self.parent is None:
            raise RuntimeError("not connected")
        return self._client


def _log_batch(client: MlflowClient, run_id: str, batch: Sequence[Any]) -> None:
    from mlflow.entities import Metric, Param, RunTag

    client.log_batch(
        run_id,
        metrics=[i for i in batch if isinstance(i, Metric)],
        params=[i for i in batch if isinstance(i, Param)],
        tags=[i for i in batch if isinstance(i, RunTag)],
    )


def _batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    """log_batch's limits: 1000 items, of them at most 100 params (params come first)."""
    from mlflow.entities import Param

    out: list[list[Any]] = [[]]
    for item in items:
        current = out[-1]
        full = len(current) >= content.BATCH_ITEMS or (
            isinstance(item, Param)
            and sum(isinstance(i, Param) for i in current) >= content.BATCH_PARAMS
        )
        if full:
            out.append(current := [])
        current.append(item)
    return [batch for batch in out if batch]


def _call(action: Any) -> Any:
    """`action()`, with a refusal of its content turned into `Rejected`: not retried."""
    from mlflow.exceptions import MlflowException

    try:
        return action()
    except MlflowException as error:
        if error.error_code in _CONTENT_ERRORS:
            raise Rejected(error.message) from None
        raise
