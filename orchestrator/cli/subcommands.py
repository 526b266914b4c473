"""The subcommands: plan shards from the main command's selection, and read finished runs
(summarize a journal, merge shards, show, compare, trend), and print the config schema.

Each parses its own arguments and hands them to `orchestrator.commands` or a report; the
work itself never sees click.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from orchestrator.cli.params import (
    ENV_PREFIX,
    Decorator,
    Finite,
    format_option,
    notify_option,
    option,
    output_root_option,
)
from orchestrator.cli.run_command import say_root
from orchestrator.errors import OrchestratorError

if TYPE_CHECKING:
    from orchestrator.models import RunOptions
    from orchestrator.project import Project

_T = TypeVar("_T")


def guarded(action: Callable[[], _T]) -> _T:
    """Run a subcommand's work; bad input is one line on stderr and exit 2."""
    try:
        return action()
    except OrchestratorError as error:
        from orchestrator.report import console

        console.print_error(error)
        sys.exit(error.exit_code)


@click.command()
@option(
    "--from-journal",
    "journal",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The journal_<UTC>.jsonl of the run to summarise.",
)
@output_root_option("Where summaries/ goes.")
def summarize(journal: Path, output_root: str) -> None:
    """Rebuild a run's summary from its journal, e.g. after the run was killed."""
    from orchestrator.commands import summarize as rebuild

    path = guarded(lambda: rebuild(journal, Path(output_root)))
    click.echo(f"summary: {path}")


@click.command("plan-shards")
@click.argument("count", type=click.IntRange(min=1))
@format_option("table", "json", help="json: a GitHub matrix for fromJSON().")
@click.pass_obj
def plan_shards(selection: tuple[RunOptions, Project], count: int, output_format: str) -> None:
    """Split the selected jobs into COUNT shards (fewer if there are fewer jobs).

    Uses the main command's selection flags, e.g. `run-all-training --only tag:smoke
    plan-shards 3 --format json`.
    """
    options, project = selection
    say_root(project, options)
    from orchestrator import pipeline

    shards = guarded(lambda: pipeline.plan_shards(options, project.root, count))
    if output_format == "json":
        import json

        click.echo(json.dumps({"include": shards}))
    else:
        for shard in shards:
            click.echo(f"{shard['shard']}  {' '.join(shard['jobs'])}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@output_root_option("Where the merged summaries/ goes.")
@option(
    "--expect-shards",
    type=click.IntRange(min=1),
    metavar="N",
    help="Fail if fewer shard summaries are found (a shard that never reported).",
)
@option(
    "--expect-plan",
    metavar="JSON",
    envvar=f"{ENV_PREFIX}_EXPECT_PLAN",
    help="The plan-shards matrix the shards ran: every job it names must have reported "
    "exactly once (a missing one is listed as skipped and fails the merge).",
)
@option(
    "--previous",
    type=click.Path(path_type=Path),
    metavar="FILE",
    envvar=f"{ENV_PREFIX}_PREVIOUS",
    help="The previous comparable run's summary: what notify's `change` and `regression` "
    "compare with (a missing file: none).",
)
@notify_option()
def merge(
    paths: tuple[Path, ...],
    output_root: str,
    expect_shards: int | None,
    expect_plan: str | None,
    *,
    previous: Path | None,
    notify: bool,
) -> None:
    """Join shard summaries (files, or directories holding latest.json) into one, and
    send the config's notifications (shards never do: one run, one message).

    Exits with the code the whole run would have had.
    """
    from orchestrator.commands import merge_runs
    from orchestrator.shards import parse_matrix

    plan = guarded(lambda: parse_matrix(expect_plan)) if expect_plan else None
    path, code = guarded(
        lambda: merge_runs(
            paths,
            Path(output_root),
            expect_shards,
            plan,
            previous=previous,
            project=Path.cwd() if notify else None,  # the project's config says whom to tell
        )
    )
    click.echo(f"summary: {path}")
    sys.exit(code)


@click.command()
@click.argument("summary", required=False, type=click.Path(exists=True, path_type=Path))
@format_option("table", "json", "markdown", help="How to print the run.")
def show(summary: Path | None, output_format: str) -> None:
    """Show a run: SUMMARY, or summaries/latest.json."""
    guarded(lambda: _show(summary, output_format))


def _show(summary: Path | None, output_format: str) -> None:
    from orchestrator.report.history.runs import load_summaries
    from orchestrator.report.history.show import print_show, show_markdown
    from orchestrator.run_summary import LATEST, SUMMARY_DIR, dump

    path = summary or Path(SUMMARY_DIR, LATEST)
    data = load_summaries([path])[-1]
    if output_format == "json":
        click.echo(dump(data), nl=False)
    elif output_format == "markdown":
        click.echo(show_markdown(data, Path.cwd()), nl=False)
    else:
        print_show(data, Path.cwd())


def _tolerance_option(flag: str, default: float, help: str) -> Decorator:
    """One of compare's tolerances: a relative change, a finite fraction ≥ 0."""
    return option(flag, type=Finite(min=0), default=default, show_default=True, help=help)


@click.command()
@click.argument("base", type=click.Path(exists=True, path_type=Path))
@click.argument("head", type=click.Path(exists=True, path_type=Path))
@_tolerance_option(
    "--tolerance",
    0.01,
    "Relative change of a metric, in its worse direction, that is a regression.",
)
@_tolerance_option(
    "--memory-tolerance",
    0.3,
    "Relative growth of a job's peak memory that is a regression (if over 50 MiB).",
)
@_tolerance_option(
    "--cpu-tolerance",
    0.3,
    "Relative growth of a job's CPU time that is a regression (if over 1 s).",
)
@option(
    "--fail-on-regression",
    is_flag=True,
    envvar=f"{ENV_PREFIX}_FAIL_ON_REGRESSION",
    help="Exit 1 when a required job regressed.",
)
@format_option("table", "json", "markdown", help="markdown: for a GitHub step summary.")
def compare(
    base: Path,
    head: Path,
    *,
    tolerance: float,
    memory_tolerance: float,
    cpu_tolerance: float,
    fail_on_regression: bool,
    output_format: str,
) -> None:
    """What changed from BASE to HEAD (summary files, or directories of them)."""
    from orchestrator.commands import compare_runs

    regressions = guarded(
        lambda: compare_runs(
            [base],
            [head],
            tolerance=tolerance,
            output_format=output_format,
            project=Path.cwd(),
            resource_tolerance={"peak_memory": memory_tolerance, "cpu_time": cpu_tolerance},
        )
    )
    sys.exit(1 if fail_on_regression and regressions else 0)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@format_option("table", "markdown", help="markdown: Mermaid charts GitHub renders.")
def trend(paths: tuple[Path, ...], output_format: str) -> None:
    """Each job's headline metrics and run time over many runs (summary files or dirs)."""
    from orchestrator.report.history.runs import load_summaries
    from orchestrator.report.history.trend import trend as trend_over
    from orchestrator.report.history.trend_views import print_trend, trend_markdown

    series = guarded(lambda: trend_over(load_summaries(list(paths), skip_unreadable=True)))
    if output_format == "markdown":
        click.echo(trend_markdown(series), nl=False)
    else:
        print_trend(series)


@click.command("config-schema")
@format_option("json", "markdown", help="markdown: the key reference table of README.")
def config_schema(output_format: str) -> None:
    """Print the JSON Schema of configs/*.yaml (orchestrator/schemas/config.schema.json)."""
    import json

    from orchestrator.config.export import config_reference
    from orchestrator.config.export import config_schema as schema

    if output_format == "markdown":
        click.echo(config_reference(), nl=False)
    else:
        click.echo(json.dumps(schema(), indent=2, ensure_ascii=False))


#: What `orchestrator.cli` adds to the main command.
SUBCOMMANDS = (summarize, plan_shards, merge, show, compare, trend, config_schema)
