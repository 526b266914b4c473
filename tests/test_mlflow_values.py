"""MLflow tracking's pure parts as values (issue 20): when it is on and where, what a job's
params and tags are, which files go up; and that nothing imports MLflow unless it is on."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHIM, Project

from orchestrator.cli.run_options import _mlflow
from orchestrator.config.tracking import tracking_uri_problem
from orchestrator.errors import ConfigError
from orchestrator.models import Attempt, JobResult, PlannedJob, RetryPolicy, RunOptions, Status
from orchestrator.models import TrackingConfig as Config
from orchestrator.tracking.content import (
    artifact_files,
    job_params,
    job_tags,
    key,
    progress_points,
    run_status,
)
from orchestrator.tracking.settings import resolve

ROOT = Path("/srv/proj/out")
EMBEDDED = "sqlite:////srv/proj/out/mlruns.db"
URI_B = {"MLFLOW_TRACKING_URI": "http://b"}


@pytest.mark.parametrize(
    ("config", "options", "environ", "expected"),
    [
        (None, RunOptions(), {"MLFLOW_TRACKING_URI": "http://x"}, None),  # the URI alone: off
        (Config(), RunOptions(mlflow="off"), {}, None),
        (None, RunOptions(mlflow=""), {}, (EMBEDDED, "proj")),
        (None, RunOptions(mlflow="http://a:5000"), URI_B, ("http://a:5000", "proj")),
        (Config(tracking_uri="http://c"), RunOptions(), URI_B, ("http://b", "proj")),
        (Config(tracking_uri="http://c", experiment="e"), RunOptions(), {}, ("http://c", "e")),
        (Config(experiment="e"), RunOptions(mlflow_experiment="f"), {}, (EMBEDDED, "f")),
        (None, RunOptions(mlflow_experiment="f"), URI_B, ("http://b", "f")),
    ],
)  # fmt: skip
def test_what_turns_tracking_on_and_where_it_goes(
    config: Config | None,
    options: RunOptions,
    environ: dict[str, str],
    expected: tuple[str, str] | None,
) -> None:
    tracking = resolve(config, options, environ, ROOT, "proj")
    assert (tracking and (tracking.uri, tracking.experiment)) == expected


def test_the_embedded_store_keeps_its_artifacts_under_the_root_and_links_need_a_ui() -> None:
    embedded = resolve(Config(), RunOptions(), {}, ROOT, "proj")
    assert embedded is not None
    assert embedded.artifact_location == "file:///srv/proj/out/mlartifacts"
    assert embedded.ui_url is None
    served = resolve(None, RunOptions(mlflow="https://mlflow.example/"), {}, ROOT, "p")
    assert served is not None
    assert (served.artifact_location, served.ui_url) == (None, "https://mlflow.example")
    shown = resolve(
        None, RunOptions(mlflow="", mlflow_ui_url="http://localhost:5000"), {}, ROOT, "p"
    )
    assert shown is not None and shown.ui_url == "http://localhost:5000"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (None, None),
        ("on", ""),
        ("TRUE", ""),
        ("", ""),
        ("off", "off"),
        ("http://h:5000", "http://h:5000"),
        ("databricks", "databricks"),
        ("store", "file:///typed/store"),
    ],
)
def test_the_mlflow_flag_value(typed: str | None, expected: str | None) -> None:
    assert _mlflow(typed, lambda path: f"/typed/{path}") == expected


def planned(argv: tuple[str, ...], **fields: object) -> PlannedJob:
    defaults: dict[str, object] = {
        "id": "j",
        "argv": argv,
        "cwd": ".",
        "env": (),
        "output_dir": "results/j_results",
        "log_path": "logs/j.log",
        "retries": 0,
        "retry": RetryPolicy(),
        "timeout": None,
        "grace": 10.0,
        "cpus": 1,
        "priority": "normal",
        "gates": (),
        "optional": False,
        "tags": (),
        "source": "train_j.py",
        "script": "train_j.py",
    }
    return PlannedJob(**{**defaults, **fields})  # type: ignore[arg-type]


def test_params_are_the_flags_passed_without_the_output_dir_and_with_secrets_masked() -> None:
    job = planned(
        (
            *("python", "train_j.py", "--output-dir", "results/j_results", "--epochs", "5"),
            *("--lr=0.1", "--verbose", "--shift", "-3", "--token", "hunter22"),
            *("--inputs", "a", "b"),
        ),
        secrets=("hunter22",),
    )
    assert job_params(job) == {
        "epochs": "5",
        "lr": "0.1",
        "verbose": "true",
        "shift": "-3",
        "token": "***",
        "inputs": "a b",
    }
    command = planned(("bash", "run.sh", "fast", "-c", "echo hi"), script=None)
    assert job_params(command) == {"arg0": "run.sh", "arg1": "fast", "c": "echo hi"}


@pytest.mark.parametrize(
    ("status", "mlflow"),
    [
        (Status.SUCCEEDED, "FINISHED"),
        (Status.CACHED, "FINISHED"),
        (Status.FAILED, "FAILED"),
        (Status.TIMED_OUT, "FAILED"),
        (Status.OUT_OF_MEMORY, "FAILED"),
        (Status.GATE_FAILED, "FAILED"),
        (Status.CANCELLED, "KILLED"),
        (Status.PRUNED, "KILLED"),
        (Status.SKIPPED, "KILLED"),
    ],
)
def test_statuses_map_onto_mlflows(status: Status, mlflow: str) -> None:
    assert run_status(status) == mlflow


def test_tags_say_how_the_job_ended_with_secrets_masked() -> None:
    job = planned(("python", "train_j.py", "--key", "hunter22"), secrets=("hunter22",))
    result = JobResult(
        job,
        Status.FAILED,
        (Attempt(1, 100.0, 2.0, Status.FAILED, exit_code=3),),
        reason="exit 3: hunter22 refused",
    )
    tags = job_tags(result)
    assert tags["orchestrator.command"] == "python train_j.py --key ***"
    assert tags["orchestrator.exit_reason"] == "exit 3: *** refused"
    assert (tags["orchestrator.status"], tags["orchestrator.exit_code"]) == ("failed", "3")


def test_metric_names_mlflow_refuses_are_made_acceptable() -> None:
    assert key("val/acc@5 (top)") == "val/acc_5 _top_"
    assert key("é") == "_"


def test_progress_lines_become_steps_and_odd_lines_are_passed_over(tmp_path: Path) -> None:
    (tmp_path / "progress.jsonl").write_text(
        '{"step": 0, "value": 1.5}\n'
        "not json\n"
        '{"step": "x", "value": 1}\n'
        '{"step": 1, "value": 0.5, "loss": 2, "flag": true, "nan": NaN}\n'
        '{"step": 2, "val'  # cut short: the script was killed while writing
    )
    assert progress_points(str(tmp_path), since=0) == [
        ("progress", 1.5, 0),
        ("progress", 0.5, 1),
        ("loss", 2.0, 1),
    ]
    assert progress_points(str(tmp_path), since=4e9) == []  # older than the attempt


def test_artifacts_follow_the_globs_and_the_cap_smallest_first(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name, size in {"a.txt": 10, "b.bin": 100, "sub/c.txt": 20, "big.txt": 1000}.items():
        (tmp_path / name).write_bytes(b"x" * size)
    (tmp_path / "link.txt").symlink_to("/etc/hostname")
    files, notes = artifact_files(str(tmp_path), ("**",), ("*.bin",), 500)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a.txt", "sub/c.txt"]
    assert notes == ["1 files over the 500 byte cap"]
    only_sub, _ = artifact_files(str(tmp_path), ("sub/*",), (), 10_000)
    assert [p.name for p in only_sub] == ["c.txt"]


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "tracking: {mlflow: {experimnt: x}}",
            "1:21: tracking.mlflow.experimnt: unknown key; did you mean 'experiment'?",
        ),
        ("tracking: {mlflow: {artifacts: {max_bytes: 10}}}", "must be at least 1M"),
        ("tracking: []", "1:1: tracking: expected a mapping, got list"),
        (
            "tracking: {mlflow: {tracking_uri: 'htp://host:5000'}}",
            "1:21: tracking.mlflow.tracking_uri: MLflow has no tracking store for htp: URIs",
        ),
        ("jobs: {a: {script: t.py, register: {artifact: m}}}", "missing 'name'"),
        ("jobs: {a: {script: t.py, register: {name: 'a/b'}}}", "not a model name"),
        ("jobs: {a: {script: t.py, register: {name: m, alias: latest}}}", "not an alias"),
        ("jobs: {a: {script: t.py, register: {name: m, artifact: ../x}}}", "inside the output dir"),
    ],
)
def test_bad_tracking_and_register_keys_name_their_line(
    project: Project, yaml: str, message: str
) -> None:
    from orchestrator.config import load_configs

    project.script("t.py", "")
    path = project.config("configs/x.yaml", yaml + "\n")
    with pytest.raises(ConfigError) as error:
        load_configs([path], project.root)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("uri", "takes"),
    [
        ("", True),
        ("./mlruns", True),
        ("file:///tmp/mlruns", True),
        ("HTTPS://mlflow.example.com", True),
        ("databricks", True),
        ("databricks-uc", True),
        ("sqlite:///m.db", True),
        ("postgresql+psycopg2://u@h/db", True),
        ("mssql+pyodbc://u@dsn", True),
        ("C:\\mlruns", True),
        ("htp://host:5000", False),
        ("s3://bucket/mlruns", False),
        ("mlflow://x", False),
    ],
)
def test_which_tracking_uris_mlflow_has_a_store_for(uri: str, takes: bool) -> None:
    assert (tracking_uri_problem(uri) is None) is takes


def test_a_tracking_uri_from_the_flag_or_the_environment_is_refused_before_anything_runs(
    project: Project,
) -> None:
    project.script("training/train_a.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAIN_ORCH_", "MLFLOW"))}
    for args, extra, named in (
        (["--mlflow", "htp://host:5000"], {}, "--mlflow: "),
        (["--mlflow-experiment", "e"], {"MLFLOW_TRACKING_URI": "s3://b"}, "MLFLOW_TRACKING_URI: "),
    ):
        result = subprocess.run(
            [sys.executable, str(SHIM), *args],
            cwd=project.root,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"error: {named}MLflow has no tracking store for")
        assert not (project.root / "summaries").exists()
        assert not (project.root / "logs").exists()


def test_register_and_tracking_reach_the_plan(project: Project) -> None:
    from orchestrator.config import load_configs

    project.script("t.py", "")
    path = project.config(
        "configs/x.yaml",
        """
        tracking: {mlflow: {experiment: e, artifacts: {max_bytes: 2M, include: "*.json"}}}
        jobs: {a: {script: t.py, register: m}}
        """,
    )
    config = load_configs([path], project.root)
    assert config.tracking == Config(
        experiment="e", max_artifact_bytes=2 << 20, include=("*.json",)
    )
    assert config.jobs["a"].fields["register"].name == "m"


def imported_modules(project: Project, *args: str) -> set[str]:
    # A URI in the environment supplies the address only; it turns nothing on.
    imported, result = project.imported(*args, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr[-2000:]
    return {name.split(".")[0] for name in imported}


def test_nothing_imports_mlflow_unless_tracking_is_on(project: Project) -> None:
    project.script("training/train_a.py")
    project.config("configs/jobs.yaml", "jobs: {a: {register: {name: m}}}\n")
    for args in (["--help"], ["--list"], ["--dry-run"], []):
        imported = imported_modules(project, *args)
        assert "orchestrator" in imported  # the listing is of this command's imports
        assert "mlflow" not in imported, args
    project.config("configs/jobs.yaml", "tracking: {mlflow: true}\njobs: {a: {}}\n")
    assert "mlflow" not in imported_modules(project, "--mlflow", "off")


def test_the_step_summary_links_each_job_to_its_run_when_the_ui_is_known() -> None:
    from orchestrator.report.markdown import render
    from orchestrator.run_summary import JobRecord, RunSummary

    tracking = {
        "uri": "sqlite:///x.db",
        "experiment": "e",
        "experiment_id": "3",
        "parent_run_id": "p",
        "runs": {"a": "r1"},
        "status": "ok",
    }
    summary = RunSummary(
        "2026-11-29T00:00:00Z",
        "2026-11-29T00:00:01Z",
        0,
        (JobRecord("a", Status.SUCCEEDED), JobRecord("b", Status.SUCCEEDED)),
        tracking=tracking,
    )
    assert "](" not in render(summary, Path())  # a file store: no UI to link to
    linked = dataclasses.replace(summary, tracking={**tracking, "ui_url": "http://ui"})
    table = render(linked, Path())
    assert "| [`a`](http://ui/#/experiments/3/runs/r1) | ✅ succeeded |" in table
    assert "| `b` | ✅ succeeded |" in table


def test_the_worker_runs_urgent_calls_first_and_gives_up_after_its_retries() -> None:
    import threading

    from orchestrator.tracking.worker import Rejected, Worker

    gate = threading.Event()
    order: list[str] = []
    worker = Worker(backoff=(0.0, 0.0))
    worker.submit("block", gate.wait)  # holds the thread while the rest is queued
    worker.submit("log a", lambda: order.append("log a"))
    created = worker.submit("create b", lambda: order.append("create b") or "run-b", urgent=True)

    def refuse() -> None:
        raise Rejected("param changed")

    worker.submit("refused", refuse)
    tries: list[int] = []

    def down() -> None:
        tries.append(1)
        raise ConnectionError("Connection refused")

    failed = worker.submit("log c", down)
    never = worker.submit("log d", lambda: order.append("log d"))
    gate.set()
    assert created.result(timeout=10) == "run-b"
    assert (failed.result(timeout=10), never.result(timeout=10)) == (None, None)
    assert worker.close(timeout=10) == 0
    assert order == ["create b", "log a"]  # the job waiting to start went first
    assert len(tries) == 3  # the first call and two retries, then tracking stops
    assert worker.failure == "log c: connection refused"
    assert worker.notes == ["refused: param changed"]
    assert worker.submit("late", lambda: 1).result(timeout=1) is None


def test_once_the_run_is_over_a_call_that_timed_out_is_not_tried_again() -> None:
    """Mid-run, a timeout is retried (the jobs go on meanwhile); at the end, each retry
    of a silent server would hold the run's end for another request timeout."""
    import threading
    import time

    from orchestrator.tracking.worker import Worker

    def timing_out(tries: list[int], gate: threading.Event | None = None) -> None:
        tries.append(1)
        if gate is not None:
            gate.wait(10)
        if len(tries) < 3:
            raise TimeoutError("HTTPConnectionPool(host='m', port=5000): Read timed out.")

    worker = Worker(backoff=(0.0, 0.0, 0.0))
    mid_run: list[int] = []
    worker.submit("logging a", lambda: timing_out(mid_run)).result(timeout=10)
    assert (len(mid_run), worker.failure) == (3, None)

    at_end: list[int] = []
    gate = threading.Event()
    ending = worker.submit("ending the parent run", lambda: timing_out(at_end, gate))
    closing = threading.Thread(target=worker.close, args=(30,))
    closing.start()
    while not worker._closing:  # close() has said the run is over
        time.sleep(0.001)
    gate.set()
    closing.join(10)
    assert ending.result(timeout=1) is None
    assert (len(at_end), worker.failure) == (1, "ending the parent run: timed out")
