"""The command line: flags (or `TRAIN_ORCH_*` env vars) → `RunOptions` → the pipeline.

The only module that imports click. Every option can come from the environment so a
GitHub workflow passes its form inputs through `env:` and never splices them into a script.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from orchestrator import __version__
from orchestrator.errors import OrchestratorError, SelectionError
from orchestrator.models import DEFAULT_MAX_JOBS, RunOptions

if TYPE_CHECKING:
    from orchestrator.project import Project

# The stages, the console and json are imported where a command uses them: `--help` and
# `--version` then load click, this module and the values, not the pipeline.

ENV_PREFIX = "TRAIN_ORCH"

EPILOG = """\b
Examples:
  run-all-training                              run every job, one at a time
  run-all-training --list                       what would run, and which flags each script takes
  run-all-training --dry-run --epochs 3         the exact commands, nothing started
  run-all-training --only 'xgb*,tag:smoke' --parallel --max-workers 2
  run-all-training --exclude lightgbm_forecast --retries 2 --config configs/nightly.yaml

\b
Every option can also be set through an environment variable named TRAIN_ORCH_<OPTION>
(shown with each option), e.g. TRAIN_ORCH_EPOCHS=3 or TRAIN_ORCH_PARALLEL=true; an empty
value counts as not set. Repeatable options take several values separated by spaces;
--only, --exclude and --force also by commas, and a quoted id is one exact id:
TRAIN_ORCH_ONLY="'train eval',xgboost".

\b
Stopping: Ctrl-C, SIGTERM or SIGHUP (unless started under nohup) sends SIGTERM to every
running job's process group, waits --grace seconds, then SIGKILLs what is left; a second
signal kills at once. Either way the summary is written. GitHub cancels with SIGINT,
SIGTERM 7.5 s later and SIGKILL 2.5 s after that: the SIGTERM is our second signal, so
the summary lands inside those 10 s.

\b
Exit codes: 0 every required job succeeded · 1 a required job failed, timed out or failed
its gates (0 with --allow-partial-success if any job succeeded) · 2 bad usage or config,
nothing ran · 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP
"""


#: How a CI form or workflow spells a boolean; read the same wherever a count or an id
#: list can also be a plain yes or no (`-v`, `--force`).
TRUE_WORDS = frozenset({"true", "yes", "on"})
FALSE_WORDS = frozenset({"false", "no", "off"})


class _Verbosity(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """`-vv` counts; from the environment a CI boolean ("true"/"false") works too."""

    name = "count"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS:
            return 1
        if text in FALSE_WORDS or not text:
            return 0
        try:
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a count nor true/false", param, ctx)


class _Selectors(click.types.StringParamType):
    """Job selectors (`--only`, `--exclude`, `--force`), whose own syntax splits them.

    Their environment variable is passed whole rather than split at spaces: a quoted id
    with a space (`TRAIN_ORCH_ONLY="'train eval' xgboost"`) must reach the parser intact.
    """

    name = "selectors"

    def split_envvar_value(self, rv: str) -> list[str]:
        return [rv]


class _BadValue(click.ClickException):
    """A bad option value: one line, exit 2, like every other input error of ours."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        from orchestrator.report import console

        console.print_error(OrchestratorError(self.message))


class _Option(click.Option):
    """An option that blames a bad value on where it came from.

    Click names the option even when the value came from its variable, and names the
    variable as well when the value was typed; a CI user then hunts for the wrong one.
    """

    def source(self, ctx: click.Context) -> str:
        """The variable that gave this option its value, else the option as typed."""
        typed = max(self.opts, key=len)
        if self.name and ctx.get_parameter_source(self.name) is ParameterSource.ENVIRONMENT:
            return next((name for name in self._envvars(ctx) if os.environ.get(name)), typed)
        return typed

    def _envvars(self, ctx: click.Context) -> list[str]:
        names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar or ())
        if ctx.auto_envvar_prefix and self.name:  # as click derives it
            names.append(f"{ctx.auto_envvar_prefix}_{self.name.upper()}")
        return names

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return f"'{self.source(ctx)}'" if ctx else super().get_error_hint(ctx)

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        try:
            return super().process_value(ctx, value)
        except click.BadParameter as error:  # from its type or its callback
            error.ctx, error.param = ctx, self
            raise _BadValue(error.format_message()) from None


class _Finite(click.FloatRange):
    """A number range without `inf` and `nan`: `--timeout inf` meant no time limit at all,
    and `nan` passes every range check (each comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _option(*decls: str, **kwargs: Any) -> _Decorator:
    return click.option(*decls, cls=_Option, show_envvar=True, **kwargs)


def _selectors(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """The values, once their quotes are known to close (the jobs are not known yet)."""
    assert isinstance(param, _Option)
    from orchestrator.jobs import parse_selectors

    try:
        parse_selectors(values, param.source(ctx))
    except SelectionError as error:
        raise _BadValue(str(error)) from None
    return values


def _forced(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--force`'s values, where a bare yes or no means all or none.

    As the flags read them, so a workflow's boolean input passed as `TRAIN_ORCH_FORCE`
    forces everything or nothing, never a job named `true`; that one is `--force "'true'"`.
    """
    words = [value.strip().lower() for value in values]
    kept = tuple(
        "*" if word in TRUE_WORDS else value
        for value, word in zip(values, words, strict=True)
        if word not in FALSE_WORDS
    )
    return _selectors(ctx, param, kept)


def _format(*choices: str, help: str, **kwargs: Any) -> _Decorator:
    """`--format`, as every command spells it; the first choice is the default."""
    return _option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
        **kwargs,
    )


def _output_root(help: str, default: str | None = ".", shown: str | bool = True) -> _Decorator:
    return _option("--output-root", default=default, show_default=shown, metavar="DIR", help=help)


@click.group(
    invoke_without_command=True,
    epilog=EPILOG,
    context_settings={
        "auto_envvar_prefix": ENV_PREFIX,
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
    },
)
@_option(
    "--epochs", type=click.IntRange(min=1), help="Epochs for every script that takes --epochs."
)
@_option("--folds", type=click.IntRange(min=2), help="Folds for every script that takes --folds.")
@_option(
    "--only",
    multiple=True,
    type=_Selectors(),
    callback=_selectors,
    metavar="SEL",
    help="Run only these jobs: ids, globs ('xgb*') or tag:NAME; comma-separated or repeated. "
    "A quoted id is exact: --only \"'train eval'\".",
)
@_option(
    "--exclude",
    multiple=True,
    type=_Selectors(),
    callback=_selectors,
    metavar="SEL",
    help="Skip these jobs (same forms; wins over --only).",
)
@_option("--parallel", is_flag=True, help="Run jobs in parallel (see --max-workers).")
@_option(
    "--max-workers",
    type=click.IntRange(min=1),
    help="Jobs at once with --parallel [default: CPUs].",
)
@_option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_JOBS,
    show_default=True,
    help="Refuse to plan more jobs than this (matrices expanded): a confirmation for huge runs.",
)
@_option("--retries", type=click.IntRange(min=0), help="Re-run a failed job up to N more times.")
@_option(
    "--gates",
    type=click.Choice(["enforce", "report"]),
    default="enforce",
    show_default=True,
    help="report: a failed quality gate is shown (gate_failed) but fails neither the run nor "
    "the jobs that need it, e.g. for a quick run with fewer epochs.",
)
@_option("--fail-fast", is_flag=True, help="Stop everything at the first failed required job.")
@_option(
    "--timeout",
    type=_Finite(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit per attempt for jobs whose config sets none.",
)
@_option(
    "--grace",
    type=_Finite(min=0),
    metavar="SECONDS",
    help="Between SIGTERM and SIGKILL when stopping a job [default: 10].",
)
@_option(
    "--cpus",
    type=click.IntRange(min=1),
    help="CPU tokens shared by running jobs (each job takes its `cpus:`) [default: CPUs].",
)
@_option(
    "--config",
    "configs",
    multiple=True,
    metavar="FILE",
    envvar=f"{ENV_PREFIX}_CONFIG",
    help="Extra YAML job definitions, after configs/*.yaml; later files win.",
)
@_option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME",
    envvar=f"{ENV_PREFIX}_PROFILE",
    help="Apply configs/NAME.yaml, a profile (e.g. smoke: few epochs, for CI).",
)
@_option(
    "--extra-args",
    callback=lambda _ctx, _param, text: _shell_words(text),
    metavar="STRING",
    help="Arguments appended to every job (split like a shell).",
)
@_option("--dry-run", is_flag=True, help="Print the exact commands; run and write nothing.")
@_option(
    "--list", "list_only", is_flag=True, help="List the jobs and the flags each script accepts."
)
@_option("--no-auto-discover", is_flag=True, help="Only run jobs defined in config files.")
@_option(
    "--discover-roots",
    multiple=True,
    metavar="DIR",
    help="Where to look for train_*.py "
    "[default: training, files/training, scripts, mlops/pipelines].",
)
@_option(
    "--allow-empty",
    is_flag=True,
    help="A selection that leaves no job is a green, empty run, not an error.",
)
@_option(
    "--no-journal",
    is_flag=True,
    help="Write no event journal (then --resume and summarize cannot use this run).",
)
@_option(
    "--allow-partial-success",
    is_flag=True,
    help="Exit 0 when some jobs failed, as long as at least one succeeded.",
)
@_option(
    "-v", "--verbose", count=True, type=_Verbosity(), help="Show commands and env; repeat for more."
)
@_option("-q", "--quiet", is_flag=True, help="Print only the final table and errors.")
@_output_root("Where results/, logs/ and summaries/ go.", default=None, shown="the project root")
@_format(
    "table",
    "json",
    "markdown",
    help="Output format of --list and --dry-run (markdown: as in a GitHub step summary).",
    envvar=f"{ENV_PREFIX}_FORMAT",
)
@_option("--no-deps", is_flag=True, help="Do not pull in what --only jobs need.")
@_option(
    "--force",
    multiple=True,
    is_flag=False,
    flag_value="*",
    type=_Selectors(),
    callback=_forced,
    metavar="[SEL]",
    help="Rerun jobs even if unchanged: all (also --force true), or those selected (as --only).",
)
@_option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    metavar="[SUMMARY|JOURNAL]",
    help="Rerun what did not succeed in a run (default: the latest), reusing its successes.",
)
@_option(
    "--rerun-failed",
    is_flag=False,
    flag_value="latest",
    metavar="[SUMMARY|JOURNAL]",
    help="Like --resume, but rerun only failed, timed-out and gate-failed jobs.",
)
@_option(
    "--optuna-storage",
    metavar="URL",
    help="Where sweeps keep their studies [default: sqlite:///.train_orch/optuna.db].",
)
@_option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run jobs here, or as Ray tasks (pip install 'training-orchestrator[ray]').",
)
@_option(
    "--ray-address",
    metavar="ADDRESS",
    help="auto, ray://HOST:PORT or HOST:PORT [default: start a local Ray sized by --cpus].",
)
@_option(
    "--ray-ship-outputs",
    is_flag=True,
    help="Pack each job's output dir on its worker and unpack it here (no shared disk).",
)
@_option("--shard", metavar="K/N", help="Run only part K of N of the selected jobs (CI sharding).")
@_option(
    "--shard-jobs",
    callback=lambda _ctx, _param, text: _id_list(text),
    metavar="JSON",
    help="Run exactly these of the selected jobs (a JSON list of ids, as plan-shards gives "
    "each shard); --shard is then only its label.",
)
@_option(
    "--durations",
    metavar="FILE",
    help="A previous summary whose job durations balance --shard and plan-shards.",
)
@click.version_option(__version__, "--version", prog_name="run-all-training")
@click.pass_context
def cli(ctx: click.Context, /, **params: Any) -> None:
    """Discover, plan, run and report every train_*.py in this project."""
    from orchestrator import pipeline
    from orchestrator.project import locate
    from orchestrator.report import console

    project = locate(Path.cwd())
    options = _options(params, project)
    if ctx.invoked_subcommand is not None:
        # Subcommands select jobs with the same flags. Only the main command moves to the
        # root: a subcommand's own paths are parsed after this, from where they were typed.
        ctx.obj = (options, project)
        return
    _say_root(project, options)
    try:
        os.chdir(project.root)  # the jobs run there, and the plan's paths are from there
        code = pipeline.main(options, project.root)
    except OrchestratorError as error:
        console.print_error(error)
        code = error.exit_code
    ctx.exit(code)


def _say_root(project: Project, options: RunOptions) -> None:
    """One line when the project root is not where the command was started."""
    if project.root != project.here and options.verbosity >= 0:
        click.echo(f"project root: {project.root} (nearest with {project.marker})", err=True)


def _options(params: dict[str, Any], project: Project) -> RunOptions:
    """The options; paths the user typed are turned from theirs into the project root's."""
    typed = project.typed
    return RunOptions(
        epochs=params["epochs"],
        folds=params["folds"],
        only=params["only"],
        exclude=params["exclude"],
        parallel=params["parallel"],
        max_workers=params["max_workers"],
        max_jobs=params["max_jobs"],
        retries=params["retries"],
        configs=tuple(map(typed, params["configs"])),
        profiles=params["profiles"],
        extra_args=params["extra_args"],
        dry_run=params["dry_run"],
        list_only=params["list_only"],
        auto_discover=not params["no_auto_discover"],
        discover_roots=tuple(map(typed, params["discover_roots"])),
        allow_partial_success=params["allow_partial_success"],
        allow_empty=params["allow_empty"],
        journal=not params["no_journal"],
        gates=params["gates"],
        fail_fast=params["fail_fast"],
        timeout=params["timeout"],
        grace=params["grace"],
        cpus=params["cpus"],
        no_deps=params["no_deps"],
        force=params["force"],
        resume=_run_named(params["resume"], typed),
        rerun_failed=_run_named(params["rerun_failed"], typed),
        optuna_storage=params["optuna_storage"],
        backend=params["backend"],
        ray_address=params["ray_address"],
        ray_ship_outputs=params["ray_ship_outputs"],
        shard=params["shard"],
        shard_jobs=params["shard_jobs"],
        durations=params["durations"] and typed(params["durations"]),
        verbosity=-1 if params["quiet"] else params["verbose"],
        output_root=typed(params["output_root"]) if params["output_root"] else ".",
        output_format=params["output_format"],
    )


def _run_named(source: str | None, typed: Callable[[str], str]) -> str | None:
    """`--resume`'s run: the latest of the output root, or a file typed from here."""
    return typed(source) if source and source != "latest" else source


def _shell_words(text: str | None) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text or ""))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _id_list(text: str | None) -> tuple[str, ...] | None:
    """A JSON list of job ids: ids may hold spaces and commas, so no other separator is safe."""
    if not text:
        return None
    import json

    try:
        ids = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON ({exc})") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise click.BadParameter("expected a JSON list of job ids")
    return tuple(ids)


@cli.command()
@_option(
    "--from-journal",
    "journal",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The journal_<UTC>.jsonl of the run to summarise.",
)
@_output_root("Where summaries/ goes.")
def summarize(journal: Path, output_root: str) -> None:
    """Rebuild a run's summary from its journal, e.g. after the run was killed."""
    from orchestrator.commands import summarize as rebuild

    path = _guarded(lambda: rebuild(journal, Path(output_root)))
    click.echo(f"summary: {path}")


@cli.command("plan-shards")
@click.argument("count", type=click.IntRange(min=1))
@_format("table", "json", help="json: a GitHub matrix for fromJSON().")
@click.pass_obj
def plan_shards(selection: tuple[RunOptions, Project], count: int, output_format: str) -> None:
    """Split the selected jobs into COUNT shards (fewer if there are fewer jobs).

    Uses the main command's selection flags, e.g. `run-all-training --only tag:smoke
    plan-shards 3 --format json`.
    """
    options, project = selection
    _say_root(project, options)
    from orchestrator import pipeline

    shards = _guarded(lambda: pipeline.plan_shards(options, project.root, count))
    if output_format == "json":
        import json

        click.echo(json.dumps({"include": shards}))
    else:
        for shard in shards:
            click.echo(f"{shard['shard']}  {' '.join(shard['jobs'])}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_output_root("Where the merged summaries/ goes.")
@_option(
    "--expect-shards",
    type=click.IntRange(min=1),
    metavar="N",
    help="Fail if fewer shard summaries are found (a shard that never reported).",
)
@_option(
    "--expect-plan",
    metavar="JSON",
    envvar=f"{ENV_PREFIX}_EXPECT_PLAN",
    help="The plan-shards matrix the shards ran: every job it names must have reported "
    "exactly once (a missing one is listed as skipped and fails the merge).",
)
def merge(
    paths: tuple[Path, ...], output_root: str, expect_shards: int | None, expect_plan: str | None
) -> None:
    """Join shard summaries (files, or directories holding latest.json) into one.

    Exits with the code the whole run would have had.
    """
    from orchestrator.commands import merge_runs
    from orchestrator.shards import parse_matrix

    plan = _guarded(lambda: parse_matrix(expect_plan)) if expect_plan else None
    path, code = _guarded(lambda: merge_runs(paths, Path(output_root), expect_shards, plan))
    click.echo(f"summary: {path}")
    sys.exit(code)


@cli.command()
@click.argument("summary", required=False, type=click.Path(exists=True, path_type=Path))
@_format("table", "json", "markdown", help="How to print the run.")
def show(summary: Path | None, output_format: str) -> None:
    """Show a run: SUMMARY, or summaries/latest.json."""
    _guarded(lambda: _show(summary or Path("summaries/latest.json"), output_format))


def _show(path: Path, output_format: str) -> None:
    from orchestrator.report.history.runs import load_summaries
    from orchestrator.report.history.show import print_show, show_markdown
    from orchestrator.run_summary import dump

    data = load_summaries([path])[-1]
    if output_format == "json":
        click.echo(dump(data), nl=False)
    elif output_format == "markdown":
        click.echo(show_markdown(data, Path.cwd()), nl=False)
    else:
        print_show(data, Path.cwd())


@cli.command()
@click.argument("base", type=click.Path(exists=True, path_type=Path))
@click.argument("head", type=click.Path(exists=True, path_type=Path))
@_option(
    "--tolerance",
    type=_Finite(min=0),
    default=0.01,
    show_default=True,
    help="Relative change of a metric, in its worse direction, that is a regression.",
)
@_option(
    "--fail-on-regression",
    is_flag=True,
    envvar=f"{ENV_PREFIX}_FAIL_ON_REGRESSION",
    help="Exit 1 when a required job regressed.",
)
@_format("table", "json", "markdown", help="markdown: for a GitHub step summary.")
def compare(
    base: Path, head: Path, tolerance: float, fail_on_regression: bool, output_format: str
) -> None:
    """What changed from BASE to HEAD (summary files, or directories of them)."""
    from orchestrator.commands import compare_runs

    regressions = _guarded(
        lambda: compare_runs(
            [base], [head], tolerance=tolerance, output_format=output_format, project=Path.cwd()
        )
    )
    sys.exit(1 if fail_on_regression and regressions else 0)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_format("table", "markdown", help="markdown: Mermaid charts GitHub renders.")
def trend(paths: tuple[Path, ...], output_format: str) -> None:
    """Each job's headline metrics and run time over many runs (summary files or dirs)."""
    from orchestrator.report.history.runs import load_summaries
    from orchestrator.report.history.trend import trend as trend_over
    from orchestrator.report.history.trend_views import print_trend, trend_markdown

    series = _guarded(lambda: trend_over(load_summaries(list(paths))))
    if output_format == "markdown":
        click.echo(trend_markdown(series), nl=False)
    else:
        print_trend(series)


_T = TypeVar("_T")


def _guarded(action: Callable[[], _T]) -> _T:
    """Run a subcommand's work; bad input is one line on stderr and exit 2."""
    try:
        return action()
    except OrchestratorError as error:
        from orchestrator.report import console

        console.print_error(error)
        sys.exit(error.exit_code)


@cli.command("config-schema")
@_format("json", "markdown", help="markdown: the key reference table of README.")
def config_schema(output_format: str) -> None:
    """Print the JSON Schema of configs/*.yaml (orchestrator/schemas/config.schema.json)."""
    import json

    from orchestrator import config

    if output_format == "markdown":
        click.echo(config.config_reference(), nl=False)
    else:
        click.echo(json.dumps(config.config_schema(), indent=2, ensure_ascii=False))


def main() -> None:
    """Console-script entry point; click's own usage errors already exit 2.

    The streams are made losable first: a closed stdout (`| head -1`, a dead `tee`) would
    otherwise raise EPIPE into click, which turns it into a silent exit 1 mid-run. So is
    Ctrl-C: click would turn it into "Aborted!" and exit 1, where a shell expects 130; and
    SIGTERM's default would end us without a word, even while planning. Outside a run
    (which handles them its own way), both and SIGHUP stop at once: a line, 128 + signal.
    """
    from orchestrator.execute import signals
    from orchestrator.report.streams import keep_running_without_a_console

    keep_running_without_a_console()
    signals.interrupts_raise()
    try:
        cli(prog_name="run-all-training")
    except signals.Interrupted as stop:  # outside a run: nothing to clean up
        click.echo(
            f"interrupted by {signals.signal_name(stop.signum)} (no job was running)", err=True
        )
        sys.exit(signals.exit_code_for_signal(stop.signum))
