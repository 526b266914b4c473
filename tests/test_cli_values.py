"""The command line's pure parts as values (issue 18, point 5): no process, no pipeline.

Flags are parsed by click's own `make_context`, which converts and checks every value
without calling the command; `run_options` then maps them to `RunOptions`. The end-to-end
behaviour of the same flags is in test_cli_input.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import REPO

from orchestrator.cli import cli
from orchestrator.cli.params import (
    BadValue,
    EnvAwareOption,
    Selectors,
    Verbosity,
    forced_selectors,
    id_list,
    shell_words,
)
from orchestrator.cli.run_options import run_options
from orchestrator.cli.subcommands import guarded
from orchestrator.errors import OrchestratorError
from orchestrator.models import RunOptions
from orchestrator.project import Project

AT_ROOT = Project(Path("/p"), Path("/p"), "configs/")
IN_SUB = Project(Path("/p"), Path("/p/sub"), "configs/")


@pytest.fixture(autouse=True)
def no_train_orch_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables of whoever runs the tests must not become flags here."""
    for name in [n for n in os.environ if n.startswith("TRAIN_ORCH_")]:
        monkeypatch.delenv(name)


def parsed(*args: str) -> dict[str, Any]:
    """The main command's parameter values for these flags, as its callback gets them."""
    with cli.make_context("run-all-training", list(args)) as ctx:
        return ctx.params


def options(*args: str, project: Project = AT_ROOT) -> RunOptions:
    return run_options(parsed(*args), project)


# ------------------------------------------------------------------ flags → RunOptions
def test_no_flags_are_the_default_run_options() -> None:
    assert options() == RunOptions()


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--epochs", "3"], "epochs", 3),
        (["--only", "a,b", "--only", "tag:smoke"], "only", ("a,b", "tag:smoke")),
        (["--no-auto-discover"], "auto_discover", False),
        (["--no-journal"], "journal", False),
        (["--list"], "list_only", True),
        (["--timeout", "2.5"], "timeout", 2.5),
        (["--extra-args", "--lr 0.1 'a b'"], "extra_args", ("--lr", "0.1", "a b")),
        (["--shard-jobs", '["a b", "c,d"]'], "shard_jobs", ("a b", "c,d")),
        (["--force"], "force", ("*",)),
        (["--force", "true"], "force", ("*",)),
        (["--force", "off"], "force", ()),
        (["--resume"], "resume", "latest"),
        (["--rerun-failed"], "rerun_failed", "latest"),
        (["-vv"], "verbosity", 2),
        (["-q", "-vv"], "verbosity", -1),  # quiet wins
        (["--format", "json"], "output_format", "json"),
    ],
)
def test_each_flag_reaches_its_field(args: list[str], field: str, value: object) -> None:
    assert getattr(options(*args), field) == value


def test_typed_paths_are_rebased_from_where_they_were_typed_to_the_root() -> None:
    got = options(
        "--config",
        "a.yaml",
        "--discover-roots",
        "../train",
        "--durations",
        "d.json",
        "--resume",
        "prev.json",
        "--rerun-failed",
        "/abs/run.json",
        "--output-root",
        "out",
        project=IN_SUB,
    )
    assert got.configs == ("sub/a.yaml",)
    assert got.discover_roots == ("train",)
    assert got.durations == "sub/d.json"
    assert got.resume == "sub/prev.json"
    assert got.rerun_failed == "/abs/run.json"  # absolute stays as typed
    assert got.output_root == "sub/out"


def test_a_path_outside_the_root_becomes_absolute_and_latest_stays_a_word() -> None:
    got = options("--config", "../../x.yaml", "--resume", project=IN_SUB)
    assert got.configs == ("/x.yaml",)
    assert got.resume == "latest"


def test_variables_give_the_same_options_as_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_ORCH_EPOCHS", "3")
    monkeypatch.setenv("TRAIN_ORCH_PARALLEL", "true")
    monkeypatch.setenv("TRAIN_ORCH_VERBOSE", "yes")
    monkeypatch.setenv("TRAIN_ORCH_ONLY", "'train eval' xgboost")  # passed whole
    monkeypatch.setenv("TRAIN_ORCH_CONFIG", "a.yaml b.yaml")  # repeatable: split at spaces
    monkeypatch.setenv("TRAIN_ORCH_FORCE", "false")
    assert options() == RunOptions(
        epochs=3,
        parallel=True,
        verbosity=1,
        only=("'train eval' xgboost",),
        configs=("a.yaml", "b.yaml"),
    )


# ------------------------------------------------------------- where a bad value came from
def test_a_bad_typed_value_names_the_option() -> None:
    with pytest.raises(BadValue) as caught:
        parsed("--epochs", "0")
    assert caught.value.message == "Invalid value for '--epochs': 0 is not in the range x>=1."
    assert caught.value.exit_code == 2


def test_a_bad_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_ORCH_TIMEOUT", "inf")
    with pytest.raises(BadValue) as caught:
        parsed()
    assert caught.value.message == (
        "Invalid value for 'TRAIN_ORCH_TIMEOUT': 'inf' is not a finite number"
    )


def test_an_unclosed_quote_is_blamed_on_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_ORCH_EXCLUDE", "'x")
    with pytest.raises(BadValue) as caught:
        parsed()
    assert caught.value.message == "TRAIN_ORCH_EXCLUDE 'x: no closing '"


def variables() -> dict[str, str]:
    """Each variable the command line reads → the command and option it sets."""
    root = click.Context(cli, info_name="run-all-training", **cli.context_settings)
    contexts = [(root, cli)] + [
        (click.Context(command, parent=root, info_name=name), command)
        for name, command in cli.commands.items()
    ]
    return {
        variable: f"{ctx.command_path} {param.name}"
        for ctx, command in contexts
        for param in command.params
        if isinstance(param, EnvAwareOption)
        for variable in param.envvars(ctx)
    }


def test_every_variable_the_action_sets_is_read_by_the_command_line() -> None:
    """action.yml hands its inputs over as `TRAIN_ORCH_*`; a misspelt one is silently unset."""
    action = (REPO / "action.yml").read_text(encoding="utf-8")
    set_there = set(re.findall(r"^\s+(TRAIN_ORCH_[A-Z_]+):", action, re.MULTILINE))
    assert {"TRAIN_ORCH_LIST_ONLY", "TRAIN_ORCH_EXPECT_PLAN"} <= set_there
    assert set_there - set(variables()) == set()


def test_the_variables_with_names_of_their_own() -> None:
    read = variables()
    assert read["TRAIN_ORCH_CONFIG"] == "run-all-training configs"
    assert read["TRAIN_ORCH_PROFILE"] == "run-all-training profiles"
    assert read["TRAIN_ORCH_FORMAT"] == "run-all-training output_format"
    assert read["TRAIN_ORCH_LIST_ONLY"] == "run-all-training list_only"
    assert read["TRAIN_ORCH_EXPECT_PLAN"] == "run-all-training merge expect_plan"
    assert read["TRAIN_ORCH_FAIL_ON_REGRESSION"] == "run-all-training compare fail_on_regression"


# ------------------------------------------------------------------ values with a syntax
@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, ()),
        ("", ()),
        ("--lr 0.1", ("--lr", "0.1")),
        ("--name 'a b' \"c d\"", ("--name", "a b", "c d")),
    ],
)
def test_extra_args_split_like_a_shell(text: str | None, words: tuple[str, ...]) -> None:
    assert shell_words(text) == words


def test_extra_args_with_an_open_quote_are_a_bad_value() -> None:
    with pytest.raises(click.BadParameter, match="No closing quotation"):
        shell_words("--name 'a b")


@pytest.mark.parametrize(
    ("text", "ids"),
    [(None, None), ("", None), ('["a"]', ("a",)), ('["a b", "c,d"]', ("a b", "c,d"))],
)
def test_shard_jobs_is_a_json_list_of_ids(text: str | None, ids: tuple[str, ...] | None) -> None:
    assert id_list(text) == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b", "not JSON"),
        ('{"a": 1}', "expected a JSON list of job ids"),
        ("[1]", "expected a JSON list of job ids"),
        ('[""]', "expected a JSON list of job ids"),
    ],
)
def test_shard_jobs_that_are_not_a_list_of_ids_are_a_bad_value(text: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        id_list(text)


@pytest.mark.parametrize(
    ("values", "selectors"),
    [
        (("true",), ("*",)),
        ((" YES ",), ("*",)),
        (("false",), ()),
        (("model", "'x,y'"), ("model", "'x,y'")),
        (("'true'",), ("'true'",)),  # a job named like a boolean, quoted
    ],
)
def test_force_reads_a_bare_boolean_as_all_or_none(
    values: tuple[str, ...], selectors: tuple[str, ...]
) -> None:
    assert forced_selectors(values) == selectors


@pytest.mark.parametrize(
    ("value", "count"), [(2, 2), ("true", 1), ("On", 1), ("false", 0), ("", 0), ("3", 3)]
)
def test_verbosity_is_a_count_or_a_ci_boolean(value: object, count: int) -> None:
    assert Verbosity().convert(value, None, None) == count


def test_verbosity_refuses_other_words() -> None:
    with pytest.raises(click.BadParameter, match="'lots' is neither a count nor true/false"):
        Verbosity().convert("lots", None, None)


def test_a_selectors_variable_is_passed_whole() -> None:
    assert Selectors().split_envvar_value("'train eval' xgboost") == ["'train eval' xgboost"]


# ------------------------------------------------------------------------- the commands
def test_the_subcommands() -> None:
    assert sorted(cli.commands) == [
        "compare",
        "config-schema",
        "merge",
        "plan-shards",
        "show",
        "summarize",
        "trend",
    ]


def test_a_subcommands_input_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refused() -> None:
        raise OrchestratorError("no such run")

    with pytest.raises(SystemExit) as caught:
        guarded(refused)
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: no such run\n"


def test_a_subcommands_result_passes_through() -> None:
    assert guarded(lambda: 42) == 42
