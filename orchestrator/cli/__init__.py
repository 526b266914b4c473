"""The command line: flags (or `TRAIN_ORCH_*` env vars) → `RunOptions` → the pipeline.

The only package that imports click. Every option can come from the environment so a
GitHub workflow passes its form inputs through `env:` and never splices them into a script.

- `params`: how one value, typed or from the environment, becomes a Python value;
- `run_command`: the main command and its options; `run_options` maps them to `RunOptions`;
- `subcommands`: plan-shards, and the commands that read finished runs.
"""

from __future__ import annotations

import sys

import click

from orchestrator.cli.run_command import cli
from orchestrator.cli.subcommands import SUBCOMMANDS

__all__ = ["cli", "main"]

for _command in SUBCOMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point; click's own usage errors already exit 2.

    The streams are made losable first: a closed stdout (`| head -1`, a dead `tee`) would
    otherwise raise EPIPE into click, which turns it into a silent exit 1 mid-run. So is
    Ctrl-C: click would turn it into "Aborted!" and exit 1, where a shell expects 130; and
    SIGTERM's default would end us without a word, even while planning. Outside a run
    (which handles them its own way), both and SIGHUP stop at once: a line, 128 + signal.
    """
    from orchestrator.execute import signals
    from orchestrator.report.streams import keep_running_without_a_console, lost_output

    keep_running_without_a_console()
    signals.interrupts_raise()
    try:
        cli(prog_name="run-all-training")
    except signals.Interrupted as stop:  # outside a run: nothing to clean up
        click.echo(
            f"interrupted by {signals.signal_name(stop.signum)} (no job was running)", err=True
        )
        sys.exit(signals.exit_code_for_signal(stop.signum))
    except SystemExit as ending:
        lost = lost_output()
        if ending.code not in (0, None) or lost is None:
            raise
        click.echo(f"error: could not write the output: {lost.strerror}", err=True)
        sys.exit(1)
