"""MLflow tracking and the Model Registry against a real `mlflow server` and the embedded
SQLite store (issue 20): what a run leaves there, read back through MlflowClient.

The server (loopback, a SQLite backend, artifacts served from a temp dir) is started
once per module and worker, as creating its schema takes seconds: the test that kills it
mid-run comes last in this file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import SHIM, Project

from orchestrator.run_summary.records import parse_iso

pytest.importorskip("mlflow", reason="the mlflow extra is part of .[dev]")
from mlflow.tracking import MlflowClient

# The reading client's SQLAlchemy warns of its own deprecations (SQLite store only).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = "s3cr3t-value-42"

LOGGER = """
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
with open(out / "progress.jsonl", "w") as progress:
    for step in range(args.epochs):
        progress.write(json.dumps({"step": step, "value": step / 10}) + "\\n")
import mlflow
with mlflow.start_run():  # the job's own run: MLFLOW_RUN_ID says which
    mlflow.log_metric("own_metric", 7.5)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.95}))
(out / "model.joblib").write_bytes(b"a model")
(out / "notes.txt").write_text("token " + os.environ["API_TOKEN"])
print("token", os.environ["API_TOKEN"])
"""

WEAK = """
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--lr", type=float, default=0.5)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": args.lr}))
(out / "model.joblib").write_bytes(b"a weak model")
"""

CONFIG = f"""
tracking:
  mlflow:
    experiment: e2e
    artifacts: {{exclude: ["*.tmp"]}}
jobs:
  logger:
    epochs: 4
    seed: 7
    env: {{API_TOKEN: {SECRET}}}
    gates: {{accuracy: ">= 0.9"}}
    register: {{name: logger-model}}
  weak:
    script: training/train_weak.py
    args: {{lr: 0.5}}
    gates: {{accuracy: ">= 0.9"}}
    register: {{name: weak-model, alias: champion}}
  sweep:
    script: training/train_weak.py
    sweep:
      metric: accuracy
      n_trials: 2
      sampler: random
      pruner: none
      params:
        lr: {{float: [0.1, 0.9]}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        with (root / "server.log").open("w") as log:
            self.process = self._start(root, log)
        self._wait_healthy(root / "server.log")

    def _start(self, root: Path, log: IO[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "mlflow", "server"),
                *("--backend-store-uri", f"sqlite:///{root}/server.db"),
                *("--artifacts-destination", str(root / "artifacts")),
                *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )

    def _wait_healthy(self, log: Path) -> None:
        """Until /health answers; the server dying first fails with its log."""
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server died:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield running
    finally:
        running.kill()


def children(client: MlflowClient, experiment_id: str, parent: str) -> dict[str, object]:
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    return {run.info.run_name: run for run in runs}


def test_a_tracked_run_logs_parent_children_trials_and_registers_what_passed(
    project: Project, server: Server
) -> None:
    project.script("training/train_logger.py", LOGGER)
    project.script("training/train_weak.py", WEAK)
    project.config("configs/jobs.yaml", CONFIG)
    result = project.run("--mlflow", server.url, timeout=300)
    assert result.returncode == 1, result.stderr  # weak fails its gate
    assert "tracking: failed" not in result.stderr
    assert "View run" not in result.stdout  # MLflow's own chatter is not our console's
    tracking = project.summary()["tracking"]
    assert tracking["status"] == "ok"
    assert tracking["registered"] == {
        "logger": "logger-model version 1, alias candidate",
        "weak": "not registered: gate_failed",
    }
    client = MlflowClient(server.url)
    experiment = client.get_experiment_by_name("e2e")
    assert experiment is not None
    parent = client.get_run(tracking["parent_run_id"])
    assert parent.info.status == "FAILED"
    assert parent.data.tags["orchestrator.verdict"] == "failed"
    runs = children(client, experiment.experiment_id, parent.info.run_id)
    assert sorted(runs) == ["logger", "sweep", "weak"]
    check_logger(project, client, runs["logger"])
    for run in (parent, *runs.values()):
        assert SECRET not in json.dumps([run.data.tags, run.data.params])

    weak = runs["weak"]
    assert (weak.info.status, weak.data.params) == ("FAILED", {"lr": "0.5"})
    assert weak.data.tags["orchestrator.exit_reason"] == "accuracy 0.5 fails >= 0.9"

    trials = children(client, experiment.experiment_id, runs["sweep"].info.run_id)
    assert sorted(trials) == ["sweep[trial=0]", "sweep[trial=1]"]
    for trial in trials.values():
        assert trial.data.tags["optuna.trial_state"] == "COMPLETE"
        assert float(trial.data.params["lr"]) == trial.data.metrics["accuracy"]

    version = client.get_model_version_by_alias("logger-model", "candidate")
    assert (version.version, version.run_id) == ("1", runs["logger"].info.run_id)
    assert json.loads(version.tags["orchestrator.metrics"]) == {"accuracy": 0.95}
    assert client.search_model_versions("name = 'weak-model'") == []
    check_resumed(project, server, client, parent.info.run_id)


def check_logger(project: Project, client: MlflowClient, logger: Any) -> None:
    """The job that logs its own metric: one run with ours and its own, times, files."""
    assert logger.info.status == "FINISHED"
    assert logger.data.params == {"epochs": "4", "seed": "7"}
    assert logger.data.metrics == {"accuracy": 0.95, "progress": 0.3, "own_metric": 7.5}
    history = client.get_metric_history(logger.info.run_id, "progress")
    assert [(m.step, m.value) for m in history] == [(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.3)]
    assert logger.data.tags["orchestrator.status"] == "succeeded"
    assert logger.data.tags["orchestrator.attempts"] == "1"
    attempt = project.jobs()["logger"]["attempts"][0]
    began = parse_iso(attempt["started_at"]) * 1000
    # created just before the job started; ended when its attempt did
    assert began - 60_000 < logger.info.start_time <= began + 1
    assert logger.info.end_time == pytest.approx(began + attempt["duration_s"] * 1000, abs=2)
    outputs = {a.path for a in client.list_artifacts(logger.info.run_id, "outputs")}
    # notes.txt holds the secret: not uploaded, and said so
    assert outputs == {"outputs/metrics.json", "outputs/model.joblib", "outputs/progress.jsonl"}
    assert "notes.txt not uploaded" in logger.data.tags["orchestrator.artifacts_left_out"]
    log = client.download_artifacts(logger.info.run_id, "logs/logger.log", str(project.root))
    assert "token ***" in Path(log).read_text()


def check_resumed(project: Project, server: Server, client: MlflowClient, parent: str) -> None:
    """--resume reruns what failed under the same parent, and registers nothing twice."""
    resumed = project.run("--resume", "--mlflow", server.url, timeout=300)
    assert resumed.returncode == 1, resumed.stderr
    again = project.summary()["tracking"]
    assert again["parent_run_id"] == parent  # the same parent, continued
    assert sorted(again["runs"]) == ["weak"]  # the rest were reused
    assert len(client.search_model_versions("name = 'logger-model'")) == 1
    experiment = client.get_run(parent).info.experiment_id
    every = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(run.info.run_name for run in every) == ["logger", "sweep", "weak", "weak"]


def test_the_embedded_default_is_a_sqlite_store_under_the_output_root(project: Project) -> None:
    project.script("training/train_weak.py", WEAK)
    result = project.run("--mlflow", "--output-root", "out", "--only", "weak")
    assert result.returncode == 0, result.stderr
    assert "INFO" not in result.stderr  # MLflow's own chatter stays out of our console
    tracking = json.loads((project.root / "out/summaries/latest.json").read_text())["tracking"]
    assert tracking["uri"] == f"sqlite:///{project.root}/out/mlruns.db"
    assert tracking["experiment"] == project.root.name
    client = MlflowClient(tracking["uri"])
    run = client.get_run(tracking["runs"]["weak"])
    assert (run.info.status, run.data.metrics) == ("FINISHED", {"accuracy": 0.5})
    assert run.info.artifact_uri.startswith(f"file://{project.root}/out/mlartifacts/")
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["logs", "outputs"]


OWN_PARAM = """
import argparse, json, pathlib
import mlflow
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--epochs", type=int)
parser.add_argument("--seed", type=int)
args = parser.parse_args()
mlflow.log_param("epochs", "ten")  # into the job's run (MLFLOW_RUN_ID), before ours
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.75}))
"""


def test_a_param_the_script_logged_keeps_its_value_and_the_rest_is_logged(
    project: Project,
) -> None:
    project.script("training/train_own.py", OWN_PARAM)
    project.config("configs/jobs.yaml", "jobs:\n  own: {epochs: 4, seed: 7}\n")
    result = project.run("--mlflow")
    assert result.returncode == 0, result.stderr
    tracking = project.summary()["tracking"]
    assert (tracking["status"], tracking.get("notes")) == ("ok", None)
    run = MlflowClient(tracking["uri"]).get_run(tracking["runs"]["own"])
    assert run.data.params == {"epochs": "ten", "seed": "7"}
    assert run.data.metrics == {"accuracy": 0.75}
    assert (run.info.status, run.data.tags["orchestrator.status"]) == ("FINISHED", "succeeded")


BLOCKER = """
import argparse, json, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
pathlib.Path("started").touch()
while not pathlib.Path("go").exists():  # the test kills the server meanwhile
    time.sleep(0.05)
(out / "metrics.json").write_text(json.dumps({"accuracy": 1.0}))
"""


def test_a_server_killed_mid_run_leaves_the_run_green_with_a_warning(
    project: Project, server: Server
) -> None:
    project.script("training/train_blocker.py", BLOCKER)
    project.script("training/train_weak.py", WEAK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAIN_ORCH_", "MLFLOW_"))}
    run = subprocess.Popen(
        [sys.executable, str(SHIM), "--mlflow", server.url],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (project.root / "started").exists():
            assert run.poll() is None, run.communicate()
            time.sleep(0.05)
        server.kill()
        (project.root / "go").touch()
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert "tracking: failed — " in stderr
    summary = project.summary()
    assert summary["tracking"]["status"].startswith("failed — ")
    assert {job["status"] for job in summary["jobs"]} == {"succeeded"}
