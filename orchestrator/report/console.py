"""What people see in the terminal, and the same facts as plain lines when it is not one."""

from __future__ import annotations

import json
import shlex
from collections import Counter
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    Interrupted,
    JobFinished,
    RunStarted,
)
from orchestrator.models import STANDARD_FLAGS, JobResult, JobSpec, Plan, Status
from orchestrator.plan import declared_flag

#: Metrics that best say "how good is it", in the order they are chosen for the headline.
HEADLINE_PREFERENCE = ("accuracy", "f1", "roc_auc", "r2", "rmse", "mae", "mape", "loss")
STATUS_STYLE = {
    Status.SUCCEEDED: ("✔", "green"),
    Status.FAILED: ("✘", "red"),
    Status.TIMED_OUT: ("⏱", "red"),
    Status.CANCELLED: ("■", "yellow"),
    Status.SKIPPED: ("·", "dim"),
    Status.GATE_FAILED: ("✘", "red"),
}
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")


def make_console(stream: IO[str] | None = None) -> Console:
    """A console that is plain (no colour, no cursor codes, wide) when not on a terminal."""
    return Console(
        file=stream or sys.stdout,
        highlight=False,
        soft_wrap=False,
        width=None if (stream or sys.stdout).isatty() else 200,
    )


def print_error(error: OrchestratorError) -> None:
    """One short line on stderr (plus the offending config line), never a traceback."""
    console = Console(file=sys.stderr, highlight=False, width=200)
    console.print(f"[bold red]error:[/] {escape(str(error))}")
    if isinstance(error, ConfigError) and error.line is not None:
        excerpt = _excerpt(Path(error.path), error.line, error.column)
        if excerpt:
            console.print(escape(excerpt), style="dim")


def _excerpt(path: Path, line: int, column: int | None) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    if not 0 < line <= len(lines):
        return ""
    width = len(str(line))
    text = f"  {line:>{width}} | {lines[line - 1]}"
    if column:
        text += f"\n  {' ' * width} | {' ' * (column - 1)}^"
    return text


def print_warning(message: str) -> None:
    Console(file=sys.stderr, highlight=False, width=200).print(
        f"[yellow]warning:[/] {escape(message)}"
    )


# ------------------------------------------------------------------------------- --list
def flag_letters(spec: JobSpec) -> str:
    """`O E F S` for the standard flags a script accepts, `.` where it does not."""
    if spec.command is not None:
        return "command"
    return " ".join(
        name[0].upper() if declared_flag(spec, name) else "." for name in STANDARD_FLAGS
    )


def list_jobs(specs: Sequence[JobSpec], config_files: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"jobs": [_spec_json(s) for s in specs]}, indent=2))
        return
    console = make_console()
    dirs = Counter(Path(s.script).parts[0] + "/" for s in specs if s.script)
    origins = [f"{d} ({n})" for d, n in sorted(dirs.items())]
    origins += [f"config: {', '.join(config_files)}"] if config_files else []
    console.print(
        f"{len(specs)} job{'s' * (len(specs) != 1)} from {' · '.join(origins)}"
        "    [dim]flags: O=--output-dir E=--epochs F=--folds S=--seed[/]"
    )
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("job", "script", "flags", "tags", "notes"):
        table.add_column(column)
    for spec in specs:
        notes = (spec.error and f"{spec.error}: not run") or ("optional" if spec.optional else "")
        table.add_row(
            escape(spec.id),
            escape(spec.script or shlex.join(spec.command or ())),
            "—" if spec.error else flag_letters(spec),
            escape(" ".join(spec.tags)),
            f"[red]{escape(notes)}[/]" if spec.error else escape(notes),
        )
    console.print(table)


def _spec_json(spec: JobSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "script": spec.script,
        "command": list(spec.command) if spec.command is not None else None,
        "flags": list(spec.flags),
        "standard_flags": {
            n: declared_flag(spec, n) for n in STANDARD_FLAGS if declared_flag(spec, n)
        },
        "tags": list(spec.tags),
        "optional": spec.optional,
        "enabled": spec.enabled,
        "description": spec.description,
        "error": spec.error,
        "origin": list(spec.origin),
    }


# ----------------------------------------------------------------------------- --dry-run
def show_plan(plan: Plan, fmt: str, verbose: bool) -> None:
    if fmt == "json":
        print(json.dumps(_plan_json(plan), indent=2))
        return
    console = make_console()
    for job in plan.jobs:
        notes = [f"retries {job.retries}"] if job.retries else []
        notes += ["optional"] if job.optional else []
        suffix = f"  ({', '.join(notes)})" if notes else ""
        console.print(f"[bold]# {escape(job.id)}[/]{escape(suffix)}")
        if job.not_runnable:
            console.print(f"[red]# not run: {escape(job.not_runnable)}[/]")
            continue
        if verbose:
            for name, value in job.env:
                console.print(f"[dim]#   {escape(name)}={escape(mask(name, value))}[/]")
        console.print(escape(shlex.join(job.argv)))
    workers = f"{plan.max_workers} at a time" if plan.max_workers > 1 else "one at a time"
    console.print(
        f"\n{len(plan.jobs)} jobs, {workers} · logs → {plan.log_dir}/<job>.log · "
        f"summary → {plan.summary_dir}/training_summary_<UTC>.json · [bold]nothing has been run[/]"
    )


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "output_root": plan.output_root,
        "log_dir": plan.log_dir,
        "summary_dir": plan.summary_dir,
        "max_workers": plan.max_workers,
        "jobs": [
            {
                "id": job.id,
                "argv": list(job.argv),
                "command": shlex.join(job.argv),
                "cwd": job.cwd,
                "env": {name: mask(name, value) for name, value in job.env},
                "output_dir": job.output_dir,
                "log_path": job.log_path,
                "retries": job.retries,
                "optional": job.optional,
                "tags": list(job.tags),
                "not_runnable": job.not_runnable,
            }
            for job in plan.jobs
        ],
    }


def mask(name: str, value: str) -> str:
    """Hide values whose names say they are secrets, so they never reach logs or artifacts."""
    return "***" if any(word in name.upper() for word in SECRET_WORDS) else value


# ------------------------------------------------------------------------------ a run
def headline(result: JobResult) -> str:
    metrics = dict(result.metrics)
    if result.status is not Status.SUCCEEDED:
        text = result.reason or result.status.value
        return f"{text} (optional)" if result.job.optional else text
    names = [result.job.headline] if result.job.headline else []
    names += [n for n in HEADLINE_PREFERENCE if n in metrics] + list(metrics)
    name = next((n for n in names if n in metrics), None)
    return f"{name} {metrics[name]:.4g}" if name else ""


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"


class ConsoleReporter:
    """Prints one line per event: on a terminal with colour, elsewhere with UTC timestamps."""

    def __init__(self, verbosity: int) -> None:
        self.console = make_console()
        self.verbosity = verbosity
        self.plain = not self.console.is_terminal

    def emit(self, event: Event) -> None:
        if self.verbosity < 0:
            return
        if isinstance(event, RunStarted):
            count = len(event.plan.jobs)
            self._line(
                event.at,
                f"running {count} job{'s' * (count != 1)}, {event.plan.max_workers} at a time",
            )
        elif isinstance(event, AttemptStarted):
            self._started(event)
        elif isinstance(event, AttemptEnded) and event.retry_in is not None:
            attempt = event.attempt
            self._line(
                time.time(),
                f"[yellow]retry[/]  {escape(event.job.id)} attempt "
                f"{attempt.number}/{event.of} {attempt.status.value}; "
                f"next in {event.retry_in:g}s",
            )
        elif isinstance(event, JobFinished):
            self._finished(event.result)
        elif isinstance(event, Interrupted):
            how = "killing running jobs now" if event.forced else "stopping running jobs"
            self._line(event.at, f"[bold yellow]{event.signal_name}[/]: {how}")

    def _started(self, event: AttemptStarted) -> None:
        if self.plain or self.verbosity > 0:
            tries = f" (attempt {event.number}/{event.of})" if event.of > 1 else ""
            self._line(event.at, f"start  {escape(event.job.id)}{tries}")
        if self.verbosity > 0:
            self.console.print(f"       [dim]{escape(shlex.join(event.job.argv))}[/]")

    def _finished(self, result: JobResult) -> None:
        mark, style = STATUS_STYLE[result.status]
        took = _seconds(sum(a.duration for a in result.attempts))
        log = f" · {result.job.log_path}" if result.status is not Status.SUCCEEDED else ""
        if self.plain:
            self._line(
                time.time(),
                f"done   {result.job.id} {result.status.value} {took} "
                f"{escape(headline(result))}{log}",
            )
        else:
            self.console.print(
                f"[{style}]{mark}[/] {escape(result.job.id):<24} {took:>7}  "
                f"{escape(headline(result))}{escape(log)}"
            )

    def _line(self, at: float, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime(at)) if self.plain else ""
        self.console.print(f"{stamp}{text}")


def final_table(
    results: Sequence[JobResult], duration: float, exit_code: int, summary_path: Path | None
) -> None:
    console = make_console()
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column, justify in (
        ("job", "left"),
        ("status", "left"),
        ("tries", "right"),
        ("time", "right"),
        ("headline", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        _, style = STATUS_STYLE[result.status]
        table.add_row(
            escape(result.job.id),
            f"[{style}]{result.status.value}[/]",
            str(len(result.attempts)),
            _seconds(sum(a.duration for a in result.attempts)),
            escape(headline(result)),
        )
    console.print()
    console.print(table)
    counts: dict[str, int] = {}
    for result in results:
        key = result.status.value.replace("_", " ")
        if result.job.optional and result.status is not Status.SUCCEEDED:
            key = f"optional {key}"
        counts[key] = counts.get(key, 0) + 1
    verdict = " · ".join(f"{n} {k}" for k, n in counts.items())
    style = "green" if exit_code == 0 else "red"
    console.print(f"\n{verdict} · {_seconds(duration)} · [{style}]exit {exit_code}[/]")
    if summary_path is not None:
        console.print(f"summary: {summary_path}")
