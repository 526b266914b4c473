"""summary.md, junit.xml, the GitHub step summary and annotations, from one mixed run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Project
from mermaid_check import assert_mermaid_ok

from orchestrator.report import markdown
from orchestrator.run_summary import from_document

MIXED_CONFIG = """
jobs:
  good: {gates: {accuracy: ">= 0.5"}}
  gated: {gates: {accuracy: ">= 0.99"}}
  slow: {timeout: 0.5, grace: 0.5}
  bad: {}
"""


@pytest.fixture
def mixed(project: Project, tmp_path: Path) -> tuple[Project, str, Path]:
    project.script("training/train_good.py")
    project.script("training/train_gated.py")
    project.script("training/train_slow.py", "import time; print('warming up'); time.sleep(60)\n")
    project.script(
        "training/train_bad.py", "import sys; print('CUDA <oops> & more'); sys.exit(3)\n"
    )
    project.config("configs/jobs.yaml", MIXED_CONFIG)
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    result = project.run(env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.returncode == 1
    return project, result.stdout, step_summary


def test_summary_markdown(mixed: tuple[Project, str, Path]) -> None:
    project, _, step_summary = mixed
    text = (project.root / "summaries/summary.md").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("## ❌ Training run: 1 succeeded · 1 failed · 1 timed out · ")
    assert lines[0].endswith(" · exit 1")
    assert "| `good` | ✅ succeeded | 1 |" in text
    assert "✓ accuracy >= 0.5 |" in text
    assert "| `gated` | 🚧 gate_failed | 1 |" in text
    assert "✗ accuracy 0.51 fails >= 0.99 |" in text
    assert "<code>bad</code> exit 3: last 3 lines of <code>logs/bad.log</code></summary>" in text
    assert "CUDA <oops> & more" in text  # inside a code fence, as printed
    assert "<code>slow</code> timed out" in text
    # The real Mermaid compiles the resource bars (four measured jobs) and the gantt.
    memory, cpu, chart = assert_mermaid_ok(text, count=3)
    assert (memory["title"], cpu["title"]) == (
        "Peak memory per job (MiB)",
        "CPU time per job (seconds)",
    )
    assert sorted(memory["xAxis"]) == sorted(cpu["xAxis"]) == ["bad", "gated", "good", "slow"]
    assert {task["name"]: task["tags"] for task in chart["tasks"]} == {
        "· good ": ["done"],
        "· gated ": ["active"],
        "· slow ": ["crit"],
        "· bad ": ["crit"],
    }
    assert text.count("    section worker ") == 1  # sequential: one lane
    assert step_summary.read_text() == "earlier step\n" + text


def test_junit_xml(mixed: tuple[Project, str, Path]) -> None:
    project, _, _ = mixed
    suite = ET.parse(project.root / "summaries/junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "3", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"good", "gated", "slow", "bad"}
    assert cases["good"].find("failure") is None
    assert "accuracy=0.51" in (cases["good"].findtext("system-out") or "")
    kinds = {
        name: case.find("failure").get("type")
        for name, case in cases.items()  # type: ignore[union-attr]
        if case.find("failure") is not None
    }
    assert kinds == {"gated": "gate_failed", "slow": "timed_out", "bad": "failed"}
    assert "CUDA <oops> & more" in (cases["bad"].findtext("failure") or "")


def test_annotations(mixed: tuple[Project, str, Path]) -> None:
    _, stdout, _ = mixed
    errors = sorted(line for line in stdout.splitlines() if line.startswith("::error"))
    assert errors == [
        "::error title=bad::bad failed: exit 3 (log: logs/bad.log)",
        "::error title=gated::gated gate_failed: accuracy 0.51 fails >= 0.99 (log: logs/gated.log)",
        "::error title=slow::slow timed_out: timed out (log: logs/slow.log)",
    ]


def test_annotations_past_githubs_limit_are_folded_into_one(project: Project) -> None:
    for index in range(12):
        project.script(f"training/train_bad{index:02d}.py", "import sys; sys.exit(1)\n")
    result = project.run(env={"GITHUB_ACTIONS": "true"})
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 10
    assert errors[-1] == "::error title=3 more jobs::bad09, bad10, bad11"


def test_markdown_shrinks_to_fit_the_step_summary_limit(mixed: tuple[Project, str, Path]) -> None:
    project, _, _ = mixed
    summary = from_document(project.summary(), "summary")
    full = markdown.render(summary, project.root)
    small = markdown.render(summary, project.root, limit=len(full.encode()) - 10)
    assert len(small.encode()) < len(full.encode())
    assert "Shortened to fit GitHub's 1 MiB step summary: log tails left out" in small
    tiny = markdown.render(summary, project.root, limit=400)
    assert len(tiny.encode()) <= 400
    assert tiny.startswith("## ❌ Training run: ")
    assert "Shortened to fit GitHub's 1 MiB step summary: only the job table, less " in tiny


def test_a_job_that_never_ran_points_at_no_earlier_runs_log(project: Project) -> None:
    """A skipped job's line and annotation named logs/<job>.log, which then held the
    previous run's output (or nothing): a reader opened another run's failure."""
    project.script("training/train_up.py", "import os, sys; sys.exit(int(os.environ['UP']))\n")
    project.script("training/train_down.py", "import sys; print('down, run 1'); sys.exit(4)\n")
    project.config("configs/jobs.yaml", "jobs:\n  down: {needs: [up]}\n")
    assert project.run(env={"UP": "0"}).returncode == 1  # down ran, and failed
    result = project.run("--force", env={"UP": "1", "GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert "done   up failed " in result.stdout and "exit 1 · logs/up.log\n" in result.stdout
    assert "done   down skipped 0.0s upstream 'up' failed\n" in result.stdout
    assert "::error title=up::up failed: exit 1 (log: logs/up.log)\n" in result.stdout
    assert "title=down" not in result.stdout  # a skip is not annotated at all
    assert "down, run 1" not in result.stdout
