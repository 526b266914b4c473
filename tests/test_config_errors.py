"""Every kind of bad input: exit 2, a message naming file, line and key, no traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import SHIM, Project

CASES = {
    "yaml syntax": (
        "jobs:\n  a:\n    tags: [x, y\n",
        # libyaml and pure-Python PyYAML word it differently; both name the spot.
        "configs/jobs.yaml:4:1: invalid YAML: ",
    ),
    "wrong type": (
        "jobs:\n  a:\n    epochs: ten\n",
        "configs/jobs.yaml:3:5: jobs.a.epochs: expected a whole number, got str 'ten'",
    ),
    "negative number": (
        "defaults:\n  retries: -1\n",
        "configs/jobs.yaml:2:3: defaults.retries: must be at least 0, got -1",
    ),
    "unknown key": (
        "jobs:\n  a:\n    epochs: 3\n    retires: 2\n",
        "configs/jobs.yaml:4:5: jobs.a.retires: unknown key; did you mean 'retries'?",
    ),
    "unknown top-level key": (
        "job:\n  a: {}\n",
        "configs/jobs.yaml:1:1: job: unknown top-level key; did you mean 'jobs'?",
    ),
    "missing script": (
        "jobs:\n  extra:\n    script: tools/nope.py\n",
        "configs/jobs.yaml:3:5: jobs.extra.script: script not found: tools/nope.py",
    ),
    "duplicate key": (
        "jobs:\n  a:\n    epochs: 1\n    epochs: 2\n",
        "configs/jobs.yaml:4:5: jobs.a.epochs: duplicate key (first defined on line 3)",
    ),
    "job without script": (
        "jobs:\n  ghost:\n    epochs: 2\n",
        "configs/jobs.yaml:2: jobs.ghost: no 'script' or 'command', "
        "and no discovered script train_ghost.py",
    ),
    "not a mapping": (
        "- a\n- b\n",
        "configs/jobs.yaml:1:1: expected a mapping with 'defaults:' and 'jobs:', got list",
    ),
    "bool where list": (
        "jobs:\n  a:\n    tags: true\n",
        "configs/jobs.yaml:3:5: jobs.a.tags: expected a list of strings, got bool",
    ),
    "bad flag name": (
        "jobs:\n  a:\n    flag_names: {epoch: --n}\n",
        "configs/jobs.yaml:3:18: jobs.a.flag_names.epoch: not a standard flag; "
        "did you mean 'epochs'?",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_config_error(project: Project, case: str) -> None:
    text, expected = CASES[case]
    project.script("training/train_a.py")
    project.config("configs/jobs.yaml", text)
    result = project.run("--list")
    assert result.returncode == 2, result.stderr
    assert f"error: {expected}" in result.stderr
    if case == "yaml syntax":
        assert "expected ',' or ']'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_error_shows_the_offending_line_with_a_caret(project: Project) -> None:
    project.script("training/train_a.py")
    project.config("configs/jobs.yaml", "jobs:\n  a:\n    retires: 2\n")
    result = project.run("--dry-run")
    assert result.stderr.splitlines()[1:] == ["  3 |     retires: 2", "    |     ^"]


def test_later_config_file_errors_name_that_file(project: Project) -> None:
    project.script("training/train_a.py")
    project.config("configs/jobs.yaml", "jobs:\n  a:\n    epochs: 3\n")
    project.config("nightly.yaml", "jobs:\n  a:\n    folds: 1\n")
    result = project.run("--list", "--config", "nightly.yaml")
    assert result.returncode == 2
    assert "error: nightly.yaml:3:5: jobs.a.folds: must be at least 2, got 1" in result.stderr


def test_missing_config_file(project: Project) -> None:
    project.script("training/train_a.py")
    result = project.run("--list", "--config", "nope.yaml")
    assert result.returncode == 2
    assert "error: nope.yaml: config file not found" in result.stderr


def test_a_directory_given_as_config_is_refused_by_name(project: Project) -> None:
    project.script("training/train_a.py")
    (project.root / "nightly").mkdir()
    result = project.run("--list", "--config", "nightly")
    assert result.returncode == 2
    assert "error: nightly: is a directory, not a config file" in result.stderr


def test_a_config_from_a_pipe_is_read_like_a_file(project: Project) -> None:
    """`--config <(generate-jobs)`: bash hands over /dev/fd/63, a pipe, not a file."""
    project.script("training/train_a.py")
    result = subprocess.run(
        [
            "bash",
            "-c",
            '"$0" "$1" --list --config <(printf "jobs:\\n  a:\\n    folds: 1\\n")',
            sys.executable,
            str(SHIM),
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert re.search(r"error: /dev/fd/\d+:3:5: jobs.a.folds: must be at least 2", result.stderr)


def test_a_config_on_stdin_is_read_with_dash(project: Project) -> None:
    """`generate-jobs | run-all-training --config -`, as `kubectl -f -` reads it."""
    project.script("training/train_a.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}

    def piped(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SHIM), "--list", "--format", "json", "--config", "-"],
            cwd=project.root,
            env=env,
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = piped("jobs:\n  b: {command: [/bin/true]}\n")
    assert listed.returncode == 0, listed.stderr
    assert sorted(job["id"] for job in json.loads(listed.stdout)["jobs"]) == ["a", "b"]
    refused = piped("jobs:\n  a:\n    folds: 1\n")
    assert refused.returncode == 2
    assert "error: /dev/stdin:3:5: jobs.a.folds: must be at least 2" in refused.stderr


def test_non_utf8_config(project: Project) -> None:
    project.script("training/train_a.py")
    (project.root / "configs").mkdir()
    (project.root / "configs/jobs.yaml").write_bytes(b"jobs:\n  a:\n    description: caf\xe9\n")
    result = project.run("--list")
    assert result.returncode == 2
    assert (
        "error: configs/jobs.yaml:3: not UTF-8 text (invalid continuation byte at byte"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--only", "xgbost"],
            "error: --only xgbost: no such job; did you mean 'xgboost'? (known: lgbm, xgboost)",
        ),
        (["--exclude", "tag:nope"], "error: --exclude tag:nope: no such job (known: tag:fast)"),
        (
            ["--only", "lgbm", "--exclude", "lgbm"],
            "error: no job left to run after --only/--exclude",
        ),
    ],
)
def test_selection_errors(project: Project, args: list[str], expected: str) -> None:
    project.script("training/train_lgbm.py")
    project.script("training/train_xgboost.py")
    project.config("configs/jobs.yaml", "jobs:\n  xgboost:\n    tags: [fast]\n")
    result = project.run("--list", *args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(project: Project) -> None:
    result = project.run("--epochs", "zero")
    assert result.returncode == 2
    assert "Invalid value for '--epochs'" in result.stderr
