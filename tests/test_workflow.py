"""The GitHub workflow, proven without GitHub: lint, injection safety, and a local replay
of a dispatch that builds the step's environment exactly as GitHub would (all strings)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BUNDLED, REPO, SHIM

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
WORKFLOW = REPO / ".github/workflows/training-orchestrator.yml"


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_actionlint_passes() -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is a dev dependency: pip install '.[dev]'"
    result = subprocess.run(
        [actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_run_script_interpolates_untrusted_input(path: Path) -> None:
    for step in steps(load(path)):
        script = step.get("run", "")
        assert "${{ inputs." not in script, step
        assert "${{ github.event." not in script, step
        assert "${{" not in script, f"pass values through env:, not into the script: {step}"


def test_inputs_are_typed_and_under_githubs_limit() -> None:
    inputs = load(WORKFLOW)[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on` as True
    assert len(inputs) <= 25
    types = {name: spec["type"] for name, spec in inputs.items()}
    assert types == {
        "epochs": "string",
        "folds": "string",
        "only": "string",
        "exclude": "string",
        "parallel": "boolean",
        "max_workers": "number",
        "retries": "number",
        "timeout": "string",
        "config": "string",
        "extra_args": "string",
        "discover_roots": "string",
        "no_auto_discover": "boolean",
        "allow_partial_success": "boolean",
        "profile": "choice",
        "shards": "number",
        "dry_run": "boolean",
        "list_only": "boolean",
        "verbose": "boolean",
        "fail_on_regression": "boolean",
    }
    assert inputs["max_workers"]["default"] == 4
    assert inputs["retries"]["default"] == 0


def test_orchestrator_step_execs_and_artifacts_always_upload() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {"contents": "read"}
    orchestrate = next(
        s for s in workflow["jobs"]["train"]["steps"] if s.get("id") == "orchestrate"
    )
    assert orchestrate["run"].strip() == "exec run-all-training"
    uploads = {
        s["with"]["name"]: s
        for job in workflow["jobs"].values()
        for s in job["steps"]
        if "upload-artifact" in s.get("uses", "")
    }
    assert uploads["training-results"]["with"]["retention-days"] == 30
    assert uploads["training-summary"]["with"]["retention-days"] == 90
    assert all(step["if"] == "always()" for step in uploads.values())
    assert workflow["jobs"]["merge"]["if"].startswith("always()")


# ------------------------------------------------------------------ a local dispatch
class Expression:
    """Just enough of GitHub's expression language for this workflow's `env:` values:
    literals, context lookups, ==, !=, !, &&, || and parentheses, with GitHub's loose
    equality and its `a && b || c` value semantics."""

    TOKEN = re.compile(
        r"\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(==|!=|&&|\|\||!|\(|\))|"
        r"([A-Za-z_][\w.-]*))"
    )

    def __init__(self, text: str, contexts: dict[str, dict[str, Any]]) -> None:
        self.tokens = list(self.TOKEN.findall(text.strip()))
        self.contexts = contexts
        self.pos = 0

    def evaluate(self) -> Any:
        value = self._or()
        assert self.pos == len(self.tokens), self.tokens[self.pos :]
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][2] if self.pos < len(self.tokens) else None

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self.pos += 1
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._equality()
        while self._peek() == "&&":
            self.pos += 1
            right = self._equality()
            value = right if truthy(value) else value
        return value

    def _equality(self) -> Any:
        value = self._unary()
        while self._peek() in {"==", "!="}:
            op = self._peek()
            self.pos += 1
            same = text(value).lower() == text(self._unary()).lower()
            value = same if op == "==" else not same
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self.pos += 1
            return not truthy(self._unary())
        if self._peek() == "(":
            self.pos += 1
            value = self._or()
            self.pos += 1
            return value
        string, number, _, name = self.tokens[self.pos]
        self.pos += 1
        if string:
            return string[1:-1].replace("''", "'")
        if number:
            return float(number)
        if name in {"true", "false"}:
            return name == "true"
        context, _, key = name.partition(".")
        return self.contexts[context].get(key)


def truthy(value: Any) -> bool:
    return value not in (None, "", 0, False)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: Any, contexts: dict[str, dict[str, Any]]) -> str:
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: text(Expression(m.group(1), contexts).evaluate()),
        str(template),
    )


def dispatch_inputs(**given: Any) -> dict[str, Any]:
    """The inputs context GitHub builds: every input, typed, defaults filled in."""
    specs = load(WORKFLOW)[True]["workflow_dispatch"]["inputs"]
    return {name: given.get(name, spec.get("default")) for name, spec in specs.items()}


def step_env(job: str, step_id: str, contexts: dict[str, dict[str, Any]]) -> dict[str, str]:
    workflow = load(WORKFLOW)
    step = next(s for s in workflow["jobs"][job]["steps"] if s.get("id") == step_id)
    layers = [workflow.get("env", {}), workflow["jobs"][job].get("env", {}), step.get("env", {})]
    return {k: render(v, contexts) for layer in layers for k, v in layer.items()}


@pytest.fixture
def runner_path(tmp_path: Path) -> str:
    """A PATH where `run-all-training` is this checkout, like `pip install .` on a runner."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "run-all-training"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SHIM}" "$@"\n')
    wrapper.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def replay(
    job: str,
    step_id: str,
    contexts: dict[str, dict[str, Any]],
    path: str,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    script = next(s for s in load(WORKFLOW)["jobs"][job]["steps"] if s.get("id") == step_id)["run"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRAIN_ORCH_", "GITHUB_"))}
    env = {**base, "PATH": path, **step_env(job, step_id, contexts), **(extra or {})}
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def dry_run_plan(runner_path: str, event: str = "workflow_dispatch", **given: Any) -> Any:
    inputs = dispatch_inputs(dry_run=True, **given) if event == "workflow_dispatch" else {}
    contexts = {
        "inputs": inputs,
        "github": {"event_name": event},
        "matrix": {"shard": "1/1"},
        "env": {},
    }
    result = replay(
        "train",
        "orchestrate",
        contexts,
        runner_path,
        {"TRAIN_ORCH_FORMAT": "json", "TRAIN_ORCH_DRY_RUN": "true"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dispatch_with_defaults_plans_every_bundled_job(runner_path: str) -> None:
    plan = dry_run_plan(runner_path)
    assert sorted(job["id"] for job in plan["jobs"]) == BUNDLED
    assert plan["max_workers"] == 1  # parallel defaults to false, whatever max_workers says
    assert all(job["retries"] == 0 for job in plan["jobs"])


def test_dispatch_with_every_kind_of_input(runner_path: str) -> None:
    plan = dry_run_plan(
        runner_path,
        only="xgb*, random_forest",
        exclude="random_forest",
        epochs="3",
        folds="",
        parallel=True,
        max_workers=2,
        retries=1,
        extra_args="--note 'two words'",
    )
    (job,) = plan["jobs"]
    assert job["id"] == "xgboost"
    assert job["argv"][2:] == [
        "--output-dir",
        "results/xgboost_results",
        "--epochs",
        "3",
        "--folds",
        "5",
        "--seed",
        "42",
        "--note",
        "two words",
    ]
    assert (plan["max_workers"], job["retries"]) == (2, 1)


def test_nightly_schedule_runs_the_smoke_jobs_with_the_smoke_profile(runner_path: str) -> None:
    plan = dry_run_plan(runner_path, event="schedule")
    jobs = {job["id"]: job["argv"] for job in plan["jobs"]}
    assert sorted(jobs) == [
        "ensemble",
        "isolation_forest",
        "mlp",
        "mlp_breast_cancer",
        "random_forest",
        "xgboost",
    ]  # mlp_breast_cancer: the ensemble needs it
    forest = jobs["random_forest"]
    assert forest[forest.index("--epochs") + 1] == "20"  # configs/smoke.yaml, not 100


def test_profile_input_selects_the_smoke_profile(runner_path: str) -> None:
    plan = dry_run_plan(runner_path, profile="smoke", only="xgboost")
    (job,) = plan["jobs"]
    assert job["argv"][job["argv"].index("--epochs") + 1] == "50"


def test_inputs_are_data_not_code(runner_path: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    inputs = dispatch_inputs(dry_run=True, only=f'"; touch {marker}; echo "$(touch {marker})')
    contexts = {
        "inputs": inputs,
        "github": {"event_name": "workflow_dispatch"},
        "matrix": {"shard": "1/1"},
        "env": {},
    }
    result = replay("train", "orchestrate", contexts, runner_path)
    assert result.returncode == 2
    assert "no such job" in result.stderr
    assert not marker.exists()


def test_plan_job_emits_the_shard_matrix(runner_path: str, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    output.write_text("")
    contexts = {
        "inputs": dispatch_inputs(shards=2),
        "github": {"event_name": "workflow_dispatch"},
        "matrix": {},
        "env": {},
    }
    result = replay("plan", "shards", contexts, runner_path, {"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0, result.stderr
    key, _, value = output.read_text().strip().partition("=")
    assert key == "matrix"
    shards = json.loads(value)["include"]
    assert [s["shard"] for s in shards] == ["1/2", "2/2"]
    assert sorted(job for s in shards for job in s["jobs"]) == BUNDLED
    ensemble = next(s["jobs"] for s in shards if "ensemble" in s["jobs"])
    assert {"random_forest", "mlp_breast_cancer"} <= set(ensemble)  # needs stay together
