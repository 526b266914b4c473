"""Wording and the table shape the history reports share, in Markdown and the terminal."""

from __future__ import annotations

from typing import Literal

from rich.table import Table


def plural(count: int, word: str) -> str:
    """`1 run`, `2 runs`."""
    return f"{count} {word}{'s' * (count != 1)}"


def borderless_table(*columns: tuple[str, Literal["left", "right"]]) -> Table:
    """A borderless table like the run's final table."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name, justify in columns:
        table.add_column(name, justify=justify)
    return table
