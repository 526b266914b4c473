"""Consoles, and the one-line errors and warnings every command prints.

What everything imports: the plan listing (listing.py), the live view (live.py) and the
history views build on these; nothing here needs more than `rich.console`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.markup import escape

from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.models import Status

STATUS_STYLE = {
    Status.SUCCEEDED: ("✔", "green"),
    Status.FAILED: ("✘", "red"),
    Status.TIMED_OUT: ("⏱", "red"),
    Status.OUT_OF_MEMORY: ("✘", "red"),
    Status.CANCELLED: ("■", "yellow"),
    Status.SKIPPED: ("·", "dim"),
    Status.GATE_FAILED: ("✘", "red"),
    Status.CACHED: ("↺", "cyan"),
    Status.REUSED: ("↺", "cyan"),
    Status.PRUNED: ("✂", "dim"),
}


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


def print_note(message: str) -> None:
    """A line of news after the run's table (a promotion, a message sent), on stdout."""
    Console(file=sys.stdout, highlight=False, width=200).print(escape(message))


def print_warning(message: str) -> None:
    Console(file=sys.stderr, highlight=False, width=200).print(
        f"[yellow]warning:[/] {escape(message)}"
    )
