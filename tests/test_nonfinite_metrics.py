"""A metric that became NaN or infinite is news, never a silent drop: it is kept in the
summary (as the strings "NaN"/"Infinity"/"-Infinity", since JSON has no such numbers),
shown in every report, fails any gate on it, and is a regression in `compare`."""

from __future__ import annotations

import json
import re
from typing import Any

from conftest import Project

WRITES_METRICS = """
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
out = pathlib.Path(parser.parse_args().output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text({text!r})
"""


def metrics_script(project: Project, job_id: str, text: str) -> None:
    project.script(f"training/train_{job_id}.py", WRITES_METRICS.format(text=text))


def strict_json(text: str) -> Any:
    """As any JSON parser but Python's reads it: NaN and Infinity are not tokens."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in the file: not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_metrics_are_kept_shown_and_fail_their_gates(project: Project) -> None:
    metrics_script(project, "gated", '{"accuracy": NaN, "loss": 0.5}')
    metrics_script(project, "diverged", '{"loss": Infinity, "f1": 0.75}')
    metrics_script(project, "plain", '{"accuracy": NaN}')
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          gated: {gates: {accuracy: ">= 0.5"}}
          diverged: {gates: {loss: ">= 0"}}
        """,
    )

    result = project.run()

    assert result.returncode == 1, result.stderr
    summary = strict_json((project.root / "summaries/latest.json").read_text())
    jobs = {job["id"]: job for job in project.summary()["jobs"]}  # schema-checked
    assert summary["schema_version"] == 3
    assert jobs["gated"]["metrics"] == {"accuracy": "NaN", "loss": 0.5}
    assert jobs["gated"]["status"] == "gate_failed"
    assert jobs["gated"]["reason"] == (
        "accuracy is NaN, not a finite number (gate accuracy >= 0.5); "
        "metrics.json: not a finite number: accuracy"
    )
    # inf >= 0 holds as a float comparison; a diverged loss passes no gate all the same
    assert jobs["diverged"]["metrics"] == {"loss": "Infinity", "f1": 0.75}
    assert jobs["diverged"]["status"] == "gate_failed"
    assert jobs["diverged"]["reason"].startswith("loss is Infinity, not a finite number")
    assert jobs["plain"]["metrics"] == {"accuracy": "NaN"}
    assert jobs["plain"]["status"] == "succeeded"
    assert jobs["plain"]["reason"] == "metrics.json: not a finite number: accuracy"

    assert "accuracy NaN ⚠ metrics.json: not a finite number: accuracy" in result.stdout
    markdown = (project.root / "summaries/summary.md").read_text()
    assert "| `plain` | ✅ succeeded | 1 |" in markdown
    assert "accuracy NaN ⚠️ metrics.json: not a finite number: accuracy" in markdown
    junit = (project.root / "summaries/junit.xml").read_text()
    assert "<system-out>loss=Infinity f1=0.75</system-out>" in junit
    assert "<system-out>accuracy=NaN</system-out>" in junit


def test_a_metric_that_became_nan_is_a_regression(project: Project) -> None:
    metrics_script(project, "a", '{"accuracy": 0.9, "loss": 0.2}')
    assert project.run().returncode == 0
    (base,) = (project.root / "summaries").glob("training_summary_*.json")
    metrics_script(project, "a", '{"accuracy": NaN, "loss": 0.2}')
    assert project.run().returncode == 0  # no gate on it: the run itself succeeds
    (head,) = set((project.root / "summaries").glob("training_summary_*.json")) - {base}

    table = project.run("compare", str(base), str(head), "--fail-on-regression")
    assert table.returncode == 1, table.stderr
    assert table.stdout.splitlines()[0] == "❌ 1 regression · 1 metric worse"
    assert re.search(r"^a +accuracy +0\.9 +NaN +no longer finite +regression$", table.stdout, re.M)

    data = strict_json(project.run("compare", str(base), str(head), "--format", "json").stdout)
    assert data["regressions"] == [
        {"job": "a", "kind": "metric", "metric": "accuracy", "resource": None, "relative": "NaN"}
    ]
    accuracy = data["jobs"][0]["metrics"][0]
    assert (accuracy["base"], accuracy["head"], accuracy["verdict"]) == (0.9, "NaN", "worse")

    markdown = project.run("compare", str(base), str(head), "--format", "markdown").stdout
    assert "| `a` | accuracy | 0.9 | NaN | no longer finite ❌ | **regression** |" in markdown

    back = project.run("compare", str(head), str(base), "--fail-on-regression")
    assert back.returncode == 0  # NaN → 0.9 is the fix, not a regression
    assert back.stdout.splitlines()[0] == "✅ no regressions · 1 metric better"
