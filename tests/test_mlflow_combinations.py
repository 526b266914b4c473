"""MLflow tracking with what users combine it with (issue 20): the Ray backend (a local
single-node Ray), and sweeps whose pruner stops trials. The embedded store, read back
through MlflowClient."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project

pytest.importorskip("mlflow", reason="the mlflow extra is part of .[dev]")
from mlflow.tracking import MlflowClient

# The reading client's SQLAlchemy warns of its own deprecations (SQLite store only).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OWN_LOGGER = """
import argparse, json, os, pathlib
import mlflow
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--seed", type=int)
args = parser.parse_args()
with mlflow.start_run():  # the job's run, on the Ray worker: MLFLOW_RUN_ID says which
    mlflow.log_metric("own_metric", 2.5)
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.875}))
"""

#: Trials 0-2 are good and quick; trial 3 reports a bad curve, then would sleep for two
#: minutes: the median pruner stops it.
PRUNABLE = """
import argparse, json, os, pathlib, time
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--lr", type=float)
a = p.parse_args()
bad = int(os.environ["TRAIN_ORCH_TRIAL"]) == 3
out = pathlib.Path(a.output_dir)
with (out / "progress.jsonl").open("a") as progress:
    for step in range(1, 4):
        progress.write(json.dumps({"step": step, "value": 0.1 if bad else 0.9}) + "\\n")
        progress.flush()
if bad:
    time.sleep(120)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
"""


def children(client: MlflowClient, run: Any) -> dict[str, Any]:
    found = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    return {child.info.run_name: child for child in found}


def test_tracking_on_the_ray_backend_gives_the_job_its_run_on_the_worker(
    project: Project,
) -> None:
    pytest.importorskip("ray", reason="the ray extra is part of .[dev]")
    project.script("training/train_own.py", OWN_LOGGER)
    project.config("configs/jobs.yaml", "jobs:\n  own: {seed: 3}\n")
    result = project.run("--backend", "ray", "--cpus", "1", "--mlflow", timeout=300)
    assert result.returncode == 0, result.stderr
    summary = project.summary()
    assert summary["backend"]["name"] == "ray"
    assert summary["jobs"][0]["attempts"][0]["node"]  # it ran as a Ray task
    tracking = summary["tracking"]
    assert tracking["status"] == "ok", tracking
    client = MlflowClient(tracking["uri"])
    parent = client.get_run(tracking["parent_run_id"])
    assert parent.info.status == "FINISHED"
    run = children(client, parent)["own"]
    assert run.info.run_id == tracking["runs"]["own"]  # the script logged into ours
    assert run.data.metrics == {"accuracy": 0.875, "own_metric": 2.5}
    assert (run.info.status, run.data.params) == ("FINISHED", {"seed": "3"})


def test_a_pruned_trial_is_a_killed_child_of_its_sweep_with_its_curve(project: Project) -> None:
    project.script("training/train_curve.py", PRUNABLE)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          curve:
            sweep:
              metric: accuracy
              n_trials: 4
              parallel: 1
              pruner: median
              params: {lr: {float: [0.001, 0.1], log: true}}
        """,
    )
    result = project.run("--mlflow", timeout=200)
    assert result.returncode == 0, result.stderr
    tracking = project.summary()["tracking"]
    assert tracking["status"] == "ok", tracking
    client = MlflowClient(tracking["uri"])
    sweep = children(client, client.get_run(tracking["parent_run_id"]))["curve"]
    trials = children(client, sweep)
    assert sorted(trials) == [f"curve[trial={n}]" for n in range(4)]
    states = {n: (t.info.status, t.data.tags["optuna.trial_state"]) for n, t in trials.items()}
    assert states == {
        "curve[trial=0]": ("FINISHED", "COMPLETE"),
        "curve[trial=1]": ("FINISHED", "COMPLETE"),
        "curve[trial=2]": ("FINISHED", "COMPLETE"),
        "curve[trial=3]": ("KILLED", "PRUNED"),
    }
    pruned = trials["curve[trial=3]"]
    assert pruned.data.tags["orchestrator.status"] == "pruned"
    assert "accuracy" not in pruned.data.metrics  # it never finished
    curve = client.get_metric_history(pruned.info.run_id, "progress")
    assert [(m.step, m.value) for m in curve] == [(1, 0.1), (2, 0.1), (3, 0.1)]
    assert float(pruned.data.params["lr"]) > 0
