"""Optuna sweeps run as orchestrator jobs: search, pruning, resume, new studies, bad specs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import SHIM, Project

# A quadratic with its minimum at x = 0.3, y = 3 (loss 0).
QUADRATIC = """
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--y", type=int, default=0)
a = p.parse_args()
loss = (a.x - 0.3) ** 2 + (a.y - 3) ** 2
pathlib.Path(a.output_dir, "metrics.json").write_text(json.dumps({"loss": loss}))
"""

# Trials 0, 1 and every even trial converge fast; odd trials from 3 on report a bad curve and
# would then train for two minutes: only the pruner can stop them.
SLOW_WHEN_BAD = """
import argparse, json, os, pathlib, time
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--lr", type=float)
a = p.parse_args()
trial = int(os.environ["TRAIN_ORCH_TRIAL"])
bad = trial >= 3 and trial % 2 == 1
out = pathlib.Path(a.output_dir)
with (out / "progress.jsonl").open("a") as progress:
    for step in range(1, 4):
        progress.write(json.dumps({"step": step, "value": 0.1 if bad else 0.9}) + "\\n")
        progress.flush()
if bad:
    time.sleep(120)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
"""

SLEEPY = """
import argparse, json, pathlib, time
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--x", type=float)
a = p.parse_args()
time.sleep(0.4)
pathlib.Path(a.output_dir, "metrics.json").write_text(json.dumps({"score": a.x}))
"""


def sweep_config(job: str, body: str) -> str:
    return f"jobs:\n  {job}:\n    sweep:\n" + "".join(
        f"      {line}\n" for line in body.splitlines()
    )


def study(project: Project, name_prefix: str) -> optuna.Study:
    storage = f"sqlite:///{project.root / '.train_orch/optuna.db'}"
    names = [
        s.study_name
        for s in optuna.get_all_study_summaries(storage)
        if s.study_name.startswith(name_prefix)
    ]
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


def states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials():
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def test_seeded_tpe_finds_a_known_optimum(project: Project) -> None:
    project.script("training/train_quad.py", QUADRATIC)
    project.config(
        "configs/jobs.yaml",
        sweep_config(
            "quad",
            """metric: loss
direction: minimize
n_trials: 30
parallel: 2
params:
  x: {float: [-1, 1]}
  y: {int: [0, 6]}""",
        ),
    )
    result = project.run()
    assert result.returncode == 0, result.stdout
    job = project.jobs()["quad"]
    assert job["status"] == "succeeded"
    assert job["sweep"]["best_params"]["y"] == 3
    assert job["sweep"]["best_value"] < 0.05  # x within about 0.22 of 0.3
    assert job["metrics"]["loss"] == pytest.approx(job["sweep"]["best_value"])
    assert job["sweep"]["trials"] == {"complete": 30}
    trials = [j for j in project.summary()["jobs"] if "sweep:quad" in j["tags"]]
    assert len(trials) == 30
    best_dir = Path(project.root, job["sweep"]["best_output_dir"])
    assert (best_dir / "metrics.json").is_file()
    assert "**Sweep `quad`**" in (project.root / "summaries/summary.md").read_text()


def test_pruner_stops_slow_bad_trials(project: Project) -> None:
    project.script("training/train_curve.py", SLOW_WHEN_BAD)
    project.config(
        "configs/jobs.yaml",
        sweep_config(
            "curve",
            """metric: accuracy
n_trials: 8
parallel: 2
pruner: median
params:
  lr: {float: [0.001, 0.1], log: true}""",
        ),
    )
    result = project.run(timeout=100)
    assert result.returncode == 0, result.stdout
    jobs = project.jobs()
    for number in (3, 5, 7):
        trial = jobs[f"curve[trial={number}]"]
        assert trial["status"] == "pruned"
        assert trial["attempts"][0]["duration_s"] < 100  # it would have run 120 s
    assert states(study(project, "curve-")) == {"COMPLETE": 5, "PRUNED": 3}


def test_interrupted_sweep_resumes_to_exactly_n_trials(project: Project) -> None:
    project.script("training/train_sleepy.py", SLEEPY)
    project.config(
        "configs/jobs.yaml",
        sweep_config(
            "sleepy",
            """metric: score
n_trials: 6
parallel: 2
pruner: none
params:
  x: {float: [0, 1]}""",
        ),
    )
    proc = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(finished_trials(project)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    first = states(study(project, "sleepy-"))
    assert first.get("COMPLETE", 0) < 6
    assert project.run().returncode == 0
    assert states(study(project, "sleepy-")).get("COMPLETE") == 6
    assert project.jobs()["sleepy"]["sweep"]["trials"]["complete"] == 6


def finished_trials(project: Project) -> list[Any]:
    records = []
    for path in (project.root / "summaries").glob("journal_*.jsonl"):
        for line in path.read_text().splitlines():
            if '"event":"job_finished"' in line and "[trial=" in line:
                records.append(line)
    return records


def test_changed_definition_starts_a_new_study(project: Project) -> None:
    project.script("training/train_quad.py", QUADRATIC)
    body = "metric: loss\ndirection: minimize\nn_trials: 2\nparams:\n  x: {float: [-1, 1]}"
    project.config("configs/jobs.yaml", sweep_config("quad", body))
    assert project.run().returncode == 0
    first = project.jobs()["quad"]["sweep"]["study"]
    assert project.run().returncode == 0  # same definition: the study is complete already
    assert project.jobs()["quad"]["sweep"]["study"] == first
    assert project.jobs()["quad"]["sweep"]["trials"] == {"complete": 2}
    project.config("configs/jobs.yaml", sweep_config("quad", body.replace("[-1, 1]", "[0, 1]")))
    assert project.run().returncode == 0
    sweep = project.jobs()["quad"]["sweep"]
    assert sweep["study"] != first
    assert (
        sweep["note"] == f"new study {sweep['study']}: sweep definition changed (earlier: {first})"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            "params:\n  x: {choices: []}",
            "jobs.quad.sweep.params.x.choices: expected a non-empty list",
        ),
        (
            "params:\n  x: {float: [1, 0]}",
            "jobs.quad.sweep.params.x.float: low must be below high, got [1, 0]",
        ),
        (
            "sampler: bayes\nparams:\n  x: {float: [0, 1]}",
            "jobs.quad.sweep.sampler: unknown value 'bayes'; did you mean 'cmaes'? "
            "(one of tpe, random, grid, cmaes)",
        ),
        (
            "params:\n  x: {float: [0, 1]}\nsampler: grid",
            "jobs.quad.sweep.sampler: grid needs int or choices params, not float ranges",
        ),
    ],
)
def test_bad_sweep_specs_are_config_errors(project: Project, params: str, expected: str) -> None:
    project.script("training/train_quad.py", QUADRATIC)
    project.config("configs/jobs.yaml", sweep_config("quad", "metric: loss\n" + params))
    result = project.run("--dry-run")
    assert result.returncode == 2
    assert "configs/jobs.yaml:" in result.stderr
    assert expected in result.stderr


def test_metric_missing_from_metrics_json_fails_each_trial_clearly(project: Project) -> None:
    project.script("training/train_quad.py", QUADRATIC)
    project.config(
        "configs/jobs.yaml",
        sweep_config(
            "quad",
            """metric: accuracy
n_trials: 2
params:
  x: {float: [0, 1]}""",
        ),
    )
    assert project.run().returncode == 1
    job = project.jobs()["quad"]
    assert (job["status"], job["reason"]) == ("failed", "no trial completed")
    assert job["sweep"]["trials"] == {"fail": 2}
    reasons = {t.user_attrs["reason"] for t in study(project, "quad-").get_trials()}
    assert reasons == {"metric 'accuracy' missing from metrics.json"}
