"""show / compare / trend through the real CLI, on real runs."""

from __future__ import annotations

import json

from conftest import Project

SCORED = """
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
a = p.parse_args()
pathlib.Path(a.output_dir, "metrics.json").write_text(json.dumps({"accuracy": SCORE, "rmse": 10}))
"""


def two_runs(project: Project, worse: float) -> None:
    project.script("training/train_model.py", SCORED.replace("SCORE", "0.9"))
    project.script("training/train_other.py", SCORED.replace("SCORE", "0.5"))
    assert project.run().returncode == 0
    project.script("training/train_model.py", SCORED.replace("SCORE", str(worse)))
    assert project.run().returncode == 0
    # Two runs in the same second still get a summary each (the second id takes a suffix).
    assert len(list((project.root / "summaries").glob("training_summary_*.json"))) == 2


def test_compare_flags_a_worse_model_and_can_fail_on_it(project: Project) -> None:
    two_runs(project, worse=0.8)
    runs = sorted((project.root / "summaries").glob("training_summary_*.json"))
    result = project.run("compare", str(runs[0]), str(runs[1]), "--format", "markdown")
    assert result.returncode == 0
    assert (
        "| `model` | accuracy | 0.9 | 0.8 | -0.1 (-11.1%) ↓ ❌ | **regression** |" in result.stdout
    )
    failing = project.run("compare", str(runs[0]), str(runs[1]), "--fail-on-regression")
    assert failing.returncode == 1
    data = json.loads(project.run("compare", str(runs[0]), str(runs[1]), "--format", "json").stdout)
    assert len(data["regressions"]) == 1


def test_config_tolerance_and_direction_decide_what_regresses(project: Project) -> None:
    two_runs(project, worse=0.85)
    project.config("configs/jobs.yaml", "jobs:\n  model:\n    regress_tolerance: {accuracy: 0.1}\n")
    runs = sorted((project.root / "summaries").glob("training_summary_*.json"))
    assert (
        project.run("compare", str(runs[0]), str(runs[1]), "--fail-on-regression").returncode == 0
    )
    project.config(
        "configs/jobs.yaml", "jobs:\n  model:\n    metric_directions: {accuracy: lower}\n"
    )
    result = project.run("compare", str(runs[0]), str(runs[1]), "--format", "markdown")
    assert "↓ ✅" in result.stdout and "**regression**" not in result.stdout


def test_show_and_trend_read_real_summaries(project: Project) -> None:
    two_runs(project, worse=0.7)
    shown = project.run("show")
    assert shown.returncode == 0
    assert "model" in shown.stdout and "accuracy 0.7" in shown.stdout
    assert (
        project.run("show", "--format", "markdown").stdout
        == (project.root / "summaries/summary.md").read_text()
    )
    chart = project.run("trend", "summaries", "--format", "markdown").stdout
    assert "xychart-beta" in chart
    assert "line [0.9, 0.7]" in chart.replace("0.90", "0.9").replace("0.70", "0.7")
    assert project.run("show", "nope.json").returncode == 2
