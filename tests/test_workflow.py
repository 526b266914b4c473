"""The GitHub workflows and the composite action, checked statically: lint (with
shellcheck), injection safety, pinned actions, and the form's inputs. What they do when
run is proven by the local runner's scenarios (test_github_scenarios.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
DISPATCH = REPO / ".github/workflows/training-orchestrator.yml"
ACTION = REPO / "action.yml"
SCRIPTS = Path(sysconfig.get_path("scripts"))


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def all_steps() -> list[tuple[str, dict[str, Any]]]:
    found = [
        (f"{path.name}:{job_id}", step)
        for path in WORKFLOWS
        for job_id, job in load(path)["jobs"].items()
        for step in job.get("steps", [])
    ]
    return found + [(ACTION.name, step) for step in load(ACTION)["runs"]["steps"]]


def tool(name: str) -> str:
    """A dev dependency's executable, found beside this interpreter (venv not activated)."""
    path = SCRIPTS / name
    assert path.is_file(), f"{name} is a dev dependency: pip install '.[dev]'"
    return str(path)


def test_actionlint_with_shellcheck_passes() -> None:
    env = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}"}
    tool("shellcheck")  # without it actionlint silently skips every run: script
    result = subprocess.run(
        [tool("actionlint"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "step", [s for _, s in all_steps() if "run" in s], ids=lambda s: s.get("name", s["run"][:30])
)
def test_the_actions_scripts_pass_shellcheck(step: dict[str, Any]) -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--shell=bash", "-"],
        input=step["run"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_no_script_interpolates_an_expression() -> None:
    for where, step in all_steps():
        assert "${{" not in step.get("run", ""), f"{where}: pass values through env: {step}"


def test_every_action_is_pinned_to_a_commit_with_its_version_named() -> None:
    pinned = re.compile(r"^\s+(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40})  # v\d+\.\d+\.\d+$")
    for path in [*WORKFLOWS, ACTION]:
        for line in path.read_text().splitlines():
            if re.match(r"^\s+(- )?uses: ", line) and "uses: ./" not in line:
                assert pinned.match(line), f"{path.name}: {line.strip()}"


def test_no_checkout_leaves_the_token_for_training_code() -> None:
    checkouts = [s for _, s in all_steps() if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_dispatch_inputs_are_typed_and_under_githubs_limit() -> None:
    inputs = load(DISPATCH)[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on` as True
    assert len(inputs) <= 25
    types = {name: spec["type"] for name, spec in inputs.items()}
    assert types["retries"] == "string"  # empty: each job's own retries, not 0 for all
    assert inputs["retries"]["default"] == ""
    assert (types["gates"], inputs["gates"]["options"]) == ("choice", ["enforce", "report"])
    assert inputs["python_version"]["default"] == "3.10"  # the oldest requires-python allows
    reusable = load(REPO / ".github/workflows/train.yml")[True]["workflow_call"]["inputs"]
    assert set(inputs) <= set(reusable)  # every form input reaches the reusable workflow


def test_dispatches_never_cancel_each_other() -> None:
    concurrency = load(DISPATCH)["concurrency"]
    assert "github.run_id" in concurrency["group"]  # each dispatch its own group
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_code_runs_on_the_oldest_python_we_claim() -> None:
    result = subprocess.run(
        [
            tool("vermin"),
            "--target=3.10-",
            "--violations",
            "--eval-annotations",
            "--no-tips",
            "orchestrator",
            "tests",
            "training",
            "run_all_training.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
