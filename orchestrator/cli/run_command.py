"""The main command: its options, what each means, and the run it starts.

`run-all-training` with no subcommand discovers, plans and runs the jobs; with one, its
selection flags become the `RunOptions` the subcommand works on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestrator import __version__
from orchestrator.cli.params import (
    ENV_PREFIX,
    DeviceList,
    Finite,
    Selectors,
    Size,
    Verbosity,
    forced,
    format_option,
    id_list,
    notify_option,
    option,
    output_root_option,
    selectors,
    shell_words,
)
from orchestrator.cli.run_options import run_options
from orchestrator.errors import OrchestratorError
from orchestrator.models import DEFAULT_MAX_JOBS

if TYPE_CHECKING:
    from orchestrator.models import RunOptions
    from orchestrator.project import Project

# The stages, the console and json are imported where a command uses them: `--help` and
# `--version` then load click, this package and the values, not the pipeline.

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


@click.group(
    invoke_without_command=True,
    epilog=EPILOG,
    context_settings={
        "auto_envvar_prefix": ENV_PREFIX,
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
    },
)
@option("--epochs", type=click.IntRange(min=1), help="Epochs for every script that takes --epochs.")
@option("--folds", type=click.IntRange(min=2), help="Folds for every script that takes --folds.")
@option(
    "--only",
    multiple=True,
    type=Selectors(),
    callback=selectors,
    metavar="SEL",
    help="Run only these jobs: ids, globs ('xgb*') or tag:NAME; comma-separated or repeated. "
    "A quoted id is exact: --only \"'train eval'\".",
)
@option(
    "--exclude",
    multiple=True,
    type=Selectors(),
    callback=selectors,
    metavar="SEL",
    help="Skip these jobs (same forms; wins over --only).",
)
@option("--parallel", is_flag=True, help="Run jobs in parallel (see --max-workers).")
@option(
    "--max-workers",
    type=click.IntRange(min=1),
    help="Jobs at once with --parallel [default: CPUs].",
)
@option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_JOBS,
    show_default=True,
    help="Refuse to plan more jobs than this (matrices expanded): a confirmation for huge runs.",
)
@option("--retries", type=click.IntRange(min=0), help="Re-run a failed job up to N more times.")
@option(
    "--gates",
    type=click.Choice(["enforce", "report"]),
    default="enforce",
    show_default=True,
    help="report: a failed quality gate is shown (gate_failed) but fails neither the run nor "
    "the jobs that need it, e.g. for a quick run with fewer epochs.",
)
@option("--fail-fast", is_flag=True, help="Stop everything at the first failed required job.")
@option(
    "--timeout",
    type=Finite(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit per attempt for jobs whose config sets none.",
)
@option(
    "--grace",
    type=Finite(min=0),
    metavar="SECONDS",
    help="Between SIGTERM and SIGKILL when stopping a job [default: 10].",
)
@option(
    "--memory-limit",
    type=Size(),
    metavar="SIZE",
    help="Memory a job's processes may use together (512M, 2G), for jobs whose config sets "
    "none; past it the job is stopped as out_of_memory.",
)
@option(
    "--memory",
    type=Size(),
    metavar="SIZE",
    help="Memory shared by running jobs (each job holds its `memory:`) "
    "[default: MemAvailable at start, less 10 % (at least 256M)].",
)
@option(
    "--gpus",
    type=DeviceList(),
    metavar="IDS",
    help="GPU devices lent to jobs' `gpus:`, one whole device each (0,1 or GPU-UUIDs; "
    "'none' for none) [default: CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`].",
)
@option(
    "--cpus",
    type=click.IntRange(min=1),
    help="CPU tokens shared by running jobs (each job takes its `cpus:`) [default: CPUs].",
)
@option(
    "--config",
    "configs",
    multiple=True,
    metavar="FILE",
    envvar=f"{ENV_PREFIX}_CONFIG",
    help="Extra YAML job definitions, after configs/*.yaml; later files win; - is stdin.",
)
@option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME",
    envvar=f"{ENV_PREFIX}_PROFILE",
    help="Apply configs/NAME.yaml, a profile (e.g. smoke: few epochs, for CI).",
)
@option(
    "--extra-args",
    callback=lambda _ctx, _param, text: shell_words(text),
    metavar="STRING",
    help="Arguments appended to every job (split like a shell).",
)
@option("--dry-run", is_flag=True, help="Print the exact commands; run and write nothing.")
@option(
    "--list", "list_only", is_flag=True, help="List the jobs and the flags each script accepts."
)
@option("--no-auto-discover", is_flag=True, help="Only run jobs defined in config files.")
@option(
    "--discover-roots",
    multiple=True,
    metavar="DIR",
    help="Where to look for train_*.py "
    "[default: training, files/training, scripts, mlops/pipelines].",
)
@option(
    "--allow-empty",
    is_flag=True,
    help="A selection that leaves no job is a green, empty run, not an error.",
)
@option(
    "--no-journal",
    is_flag=True,
    help="Write no event journal (then --resume and summarize cannot use this run).",
)
@option(
    "--allow-partial-success",
    is_flag=True,
    help="Exit 0 when some jobs failed, as long as at least one succeeded.",
)
@option(
    "-v", "--verbose", count=True, type=Verbosity(), help="Show commands and env; repeat for more."
)
@option("-q", "--quiet", is_flag=True, help="Print only the final table and errors.")
@output_root_option(
    "Where results/, logs/ and summaries/ go.", default=None, shown="the project root"
)
@format_option(
    "table",
    "json",
    "markdown",
    help="Output format of --list and --dry-run (markdown: as in a GitHub step summary).",
    envvar=f"{ENV_PREFIX}_FORMAT",
)
@option("--no-deps", is_flag=True, help="Do not pull in what --only jobs need.")
@option(
    "--force",
    multiple=True,
    is_flag=False,
    flag_value="*",
    type=Selectors(),
    callback=forced,
    metavar="[SEL]",
    help="Rerun jobs even if unchanged: all (also --force true), or those selected (as --only).",
)
@option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    metavar="[SUMMARY|JOURNAL]",
    help="Rerun what did not succeed in a run (default: the latest), reusing its successes.",
)
@option(
    "--rerun-failed",
    is_flag=False,
    flag_value="latest",
    metavar="[SUMMARY|JOURNAL]",
    help="Like --resume, but rerun only failed, timed-out and gate-failed jobs.",
)
@option(
    "--optuna-storage",
    metavar="URL",
    help="Where sweeps keep their studies [default: sqlite:///.train_orch/optuna.db].",
)
@option(
    "--mlflow",
    is_flag=False,
    flag_value="on",
    metavar="[URI|off]",
    help="Track every job in MLflow: at URI, else MLFLOW_TRACKING_URI, else "
    "sqlite:///<output root>/mlruns.db; off: not even when the config's tracking: says so "
    "(pip install 'training-orchestrator[mlflow]').",
)
@option(
    "--mlflow-experiment",
    metavar="NAME",
    help="The MLflow experiment (turns tracking on) [default: the project's directory name].",
)
@option(
    "--mlflow-ui-url",
    metavar="URL",
    help="The MLflow UI's address, for links in the step summary, when the URI is not http(s).",
)
@notify_option()
@option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run jobs here, or as Ray tasks (pip install 'training-orchestrator[ray]').",
)
@option(
    "--ray-address",
    metavar="ADDRESS",
    help="auto, ray://HOST:PORT or HOST:PORT [default: start a local Ray sized by --cpus].",
)
@option(
    "--ray-ship-outputs",
    is_flag=True,
    help="Pack each job's output dir on its worker and unpack it here (no shared disk).",
)
@option("--shard", metavar="K/N", help="Run only part K of N of the selected jobs (CI sharding).")
@option(
    "--shard-jobs",
    callback=lambda _ctx, _param, text: id_list(text),
    metavar="JSON",
    help="Run exactly these of the selected jobs (a JSON list of ids, as plan-shards gives "
    "each shard); --shard is then only its label.",
)
@option(
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
    options = run_options(params, project)
    if ctx.invoked_subcommand is not None:
        # Subcommands select jobs with the same flags. Only the main command moves to the
        # root: a subcommand's own paths are parsed after this, from where they were typed.
        ctx.obj = (options, project)
        return
    say_root(project, options)
    try:
        os.chdir(project.root)  # the jobs run there, and the plan's paths are from there
        code = pipeline.main(options, project.root)
    except OrchestratorError as error:
        console.print_error(error)
        code = error.exit_code
    ctx.exit(code)


def say_root(project: Project, options: RunOptions) -> None:
    """One line when the project root is not where the command was started."""
    if project.root != project.here and options.verbosity >= 0:
        click.echo(f"project root: {project.root} (nearest with {project.marker})", err=True)
