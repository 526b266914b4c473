"""What the command line and its `TRAIN_ORCH_*` variables accept, through the real CLI.

A value that names nothing is exit 2 with a hint, never silently ignored; a bad value is
one line that names where it came from (the option typed, or the variable set).
"""

from __future__ import annotations

import json

import pytest
from conftest import Project

JOBS = """\
jobs:
  train eval: {script: training/train_model.py}
  "x,y": {script: training/train_model.py}
  "true": {script: training/train_model.py}
"""


@pytest.fixture
def ran(project: Project) -> Project:
    """A project whose jobs all succeeded once, so that unforced they are cached."""
    project.script("training/train_model.py")
    project.config("configs/jobs.yaml", JOBS)
    assert project.run().returncode == 0
    return project


def actions(project: Project, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = project.run("--dry-run", "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return {job["id"]: job["decision"]["action"] for job in json.loads(result.stdout)["jobs"]}


def listed(project: Project, *args: str, env: dict[str, str] | None = None) -> list[str]:
    result = project.run("--list", "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return [job["id"] for job in json.loads(result.stdout)["jobs"]]


# ------------------------------------------------------------------------- 18: --force
def test_forcing_an_unknown_id_is_exit_2_with_a_hint(ran: Project) -> None:
    result = ran.run("--force", "modle")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --force modle: no such job; did you mean 'model'?")
    assert ran.jobs()["model"]["status"] == "succeeded"  # the run before; nothing ran


@pytest.mark.parametrize(
    ("force", "rerun"),
    [
        ("true", {"model", "train eval", "x,y", "true"}),
        ("YES", {"model", "train eval", "x,y", "true"}),
        ("false", set()),
        ("model 'x,y'", {"model", "x,y"}),
        ("'true'", {"true"}),  # a job named like a boolean, quoted
    ],
)
def test_the_force_variable_means_what_the_option_means(
    ran: Project, force: str, rerun: set[str]
) -> None:
    by_variable = actions(ran, env={"TRAIN_ORCH_FORCE": force})
    assert {job for job, action in by_variable.items() if action == "run"} == rerun
    assert actions(ran, "--force", force) == by_variable


def test_a_bare_force_reruns_everything(ran: Project) -> None:
    assert set(actions(ran, "--force").values()) == {"run"}


# ---------------------------------------------------------------------- 19: every id
def test_ids_with_spaces_and_commas_are_selectable(ran: Project) -> None:
    assert listed(ran, "--only", "'train eval'", "--only", '"x,y"') == ["train eval", "x,y"]
    assert listed(ran, env={"TRAIN_ORCH_ONLY": "'train eval' model"}) == ["model", "train eval"]
    assert listed(ran, "--exclude", "'train eval','x,y',true") == ["model"]


def test_matrix_ids_are_selected_unquoted(project: Project) -> None:
    project.script("training/train_rf.py")
    project.config("configs/jobs.yaml", "jobs:\n  rf:\n    matrix: {seed: [0, 1], depth: [4]}\n")
    assert listed(project, "--only", "rf[seed=1,depth=4]") == ["rf[seed=1,depth=4]"]
    assert listed(project, "--only", "rf[*]", "--exclude", "rf[seed=0,depth=4]") == [
        "rf[seed=1,depth=4]"
    ]


# ---------------------------------------------------------------- 20: blame the source
@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (
            [],
            {"TRAIN_ORCH_MAX_WORKERS": "abc"},
            "error: Invalid value for 'TRAIN_ORCH_MAX_WORKERS': 'abc' is not a valid integer "
            "range.",
        ),
        (
            ["--format", "yaml"],
            {},
            "error: Invalid value for '--format': 'yaml' is not one of 'table', 'json', "
            "'markdown'.",
        ),
        (
            [],
            {"TRAIN_ORCH_FORMAT": "yaml"},
            "error: Invalid value for 'TRAIN_ORCH_FORMAT': 'yaml' is not one of 'table', "
            "'json', 'markdown'.",
        ),
        (
            ["--max-workers", "0"],
            {"TRAIN_ORCH_MAX_WORKERS": "2"},
            "error: Invalid value for '--max-workers': 0 is not in the range x>=1.",
        ),
        (
            [],
            {"TRAIN_ORCH_EXTRA_ARGS": "--tag 'a"},
            "error: Invalid value for 'TRAIN_ORCH_EXTRA_ARGS': No closing quotation",
        ),
        (
            ["--shard-jobs", "a,b"],
            {},
            "error: Invalid value for '--shard-jobs': not JSON (Expecting value: line 1 "
            "column 1 (char 0))",
        ),
        (
            [],
            {"TRAIN_ORCH_ONLY": "'train eval"},
            "error: TRAIN_ORCH_ONLY 'train eval: no closing '",
        ),
        (["--exclude", "'x"], {}, "error: --exclude 'x: no closing '"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_source(
    project: Project, args: list[str], env: dict[str, str], line: str
) -> None:
    project.script("training/train_model.py")
    result = project.run("--list", *args, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
