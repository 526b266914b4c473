"""Where a finite number is meant, `.inf` and `.nan` are refused: in every config key and
every command-line option. The lists are derived from the config schema and from click's
parameters, so a key or option added later is walked too."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from conftest import Project

from orchestrator.cli import cli
from orchestrator.config import load_configs
from orchestrator.config.export import config_schema
from orchestrator.errors import ConfigError

KeyPath = tuple[str, ...]
#: A valid job around each number, so the only thing wrong is the number.
SWEEP = {"metric": "accuracy", "params": {"lr": {"float": [0.1, 0.2]}}}


def number_slots(schema: dict[str, Any], path: KeyPath = ()) -> Iterator[KeyPath]:
    """Every place in `schema` that holds a number and nothing else (not a scalar that
    may be text, like `args` values: `inf` is a fine argument)."""
    if schema.get("type") == "number":
        yield path
    for name, sub in schema.get("properties", {}).items():
        yield from number_slots(sub, (*path, name))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from number_slots(schema["additionalProperties"], (*path, "x"))
    if isinstance(schema.get("items"), dict):
        yield from number_slots(schema["items"], (*path, "1"))
    for alternative in schema.get("anyOf", []):
        yield from number_slots(alternative, path)


def job_slots() -> list[KeyPath]:
    job = config_schema()["properties"]["jobs"]["additionalProperties"]
    return sorted(set(number_slots(job)))


def test_the_walk_finds_the_keys_named_in_the_issue() -> None:
    slots = job_slots()
    for expected in [("timeout",), ("retry_delay",), ("backoff",), ("sweep", "timeout")]:
        assert expected in slots
    assert ("sweep", "params", "x", "float", "1") in slots


def with_value(path: KeyPath, value: float) -> dict[str, Any]:
    """A config with `value` at `path` (a mapping's any-name `x` is `lr`: the sweep's
    param, and as good a name as any elsewhere)."""
    job: dict[str, Any] = {"command": ["echo"]}
    if path[0] == "sweep":
        job["sweep"] = copy.deepcopy(SWEEP)
    keys = tuple("lr" if key == "x" else key for key in path)
    node: Any = job
    for key, below in itertools.pairwise(keys):
        if isinstance(node, list):
            node = node[int(key)]
        else:
            node = node.setdefault(key, [] if below.isdigit() else {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return {"jobs": {"j": job}}


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("path", job_slots(), ids=".".join)
def test_every_number_key_refuses_non_finite(tmp_path: Path, path: KeyPath, value: float) -> None:
    config = tmp_path / "jobs.yaml"
    config.write_text(yaml.safe_dump(with_value(path, value)))
    with pytest.raises(ConfigError) as caught:
        load_configs([config], tmp_path)
    error = caught.value
    assert error.message == f"expected a finite number, got {value}"
    assert error.line is not None
    assert error.key is not None and error.key.startswith("jobs.j." + path[0])


def test_the_same_keys_pass_with_a_finite_number(tmp_path: Path) -> None:
    for path in job_slots():
        config = tmp_path / "jobs.yaml"
        config.write_text(yaml.safe_dump(with_value(path, 1.5 if path[-1] != "0" else 0.15)))
        load_configs([config], tmp_path)


def float_options() -> list[tuple[str, click.Parameter]]:
    """Every float option of the command and its subcommands."""
    commands: list[tuple[str, click.Command]] = [("", cli)]
    commands += [(name, command) for name, command in cli.commands.items()]
    return [
        (f"{name} {param.name}".strip(), param)
        for name, command in commands
        for param in command.params
        if isinstance(param.type, click.types.FloatParamType)
    ]


def test_the_walk_finds_the_float_options() -> None:
    names = {name for name, _ in float_options()}
    assert {"timeout", "grace", "compare tolerance"} <= names


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity", "1e999"])
@pytest.mark.parametrize("name", [name for name, _ in float_options()])
def test_every_float_option_refuses_non_finite(name: str, text: str) -> None:
    param = dict(float_options())[name]
    with pytest.raises(click.BadParameter, match="finite"):
        param.type.convert(text, param, None)


def test_a_non_finite_timeout_is_exit_2(project: Project) -> None:
    """`--timeout inf` meant no time limit at all; from the environment too."""
    project.config("configs/jobs.yaml", "jobs:\n  a: {command: [echo]}\n")
    for args, env in ((["--timeout", "inf"], {}), ([], {"TRAIN_ORCH_TIMEOUT": "nan"})):
        result = project.run("--dry-run", *args, env=env)
        assert result.returncode == 2, result.stdout
        assert "Traceback" not in result.stderr
        assert "is not a finite number" in result.stderr
