"""`register:`: a job's model into the MLflow Model Registry, only when it passed.

Runs in the tracking worker's thread, after the job's run has its artifacts. A version is
tied to the job's run: registering again for the same run (a resumed run that reran
nothing of it, a retry of this call) finds the version already there and only moves the
alias, so `--resume` never makes a second version of one result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.gates import failed_gates
from orchestrator.models import JobResult, Status
from orchestrator.tracking.settings import Tracking

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MODEL_DIR = "model"


def register(
    client: MlflowClient, run_id: str, result: JobResult, tracking: Tracking
) -> tuple[bool, str]:
    """(True, "name version N") when registered; (False, why not) otherwise."""
    job = result.job
    spec = job.register
    assert spec is not None  # the caller checks
    metrics = dict(result.metrics)
    if result.status is not Status.SUCCEEDED:
        return False, f"not registered: {result.status.value}"
    failures = failed_gates(job.gates, metrics)
    if failures:
        return False, f"not registered: gate failed ({failures[0]})"
    path = Path(job.output_dir, spec.artifact)
    if path.is_symlink() or not path.is_file():
        return False, f"not registered: no {spec.artifact} in {job.output_dir}"
    from mlflow.exceptions import MlflowException

    version = _existing(client, spec.name, run_id)
    if version is None:
        client.log_artifact(run_id, str(path), MODEL_DIR)
        try:
            client.create_registered_model(spec.name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        tags = {
            "orchestrator.job_id": job.id,
            "orchestrator.metrics": json.dumps(metrics, allow_nan=True)[:5000],
            "orchestrator.gates": "; ".join(map(str, job.gates)) or "none",
        }
        commit = client.get_run(run_id).data.tags.get("mlflow.source.git.commit")
        parent = client.get_run(run_id).data.tags.get("mlflow.parentRunId")
        if commit is None and parent:
            commit = client.get_run(parent).data.tags.get("mlflow.source.git.commit")
        if commit:
            tags["git_commit"] = commit
        source = f"runs:/{run_id}/{MODEL_DIR}/{path.name}"
        version = str(
            client.create_model_version(spec.name, source, run_id=run_id, tags=tags).version
        )
    if spec.alias:
        client.set_registered_model_alias(spec.name, spec.alias, version)
    moved = f", alias {spec.alias}" if spec.alias else ""
    return True, f"{spec.name} version {version}{moved}"


def _existing(client: MlflowClient, name: str, run_id: str) -> str | None:
    """The version already made from this run, if any."""
    found = client.search_model_versions(f"name = '{_quoted(name)}' and run_id = '{run_id}'")
    return str(found[0].version) if found else None


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")
