"""A config file as parsed: its data, where each key was written, and its outline.

Every later stage of loading raises its errors through `Document.error`, so each one
names the file, line, column and key path of the value it refuses.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import DEFAULT_MAX_JOBS

KeyPath = tuple[str, ...]
Value = Any  # a YAML value after validation; each field's validator fixes its real type

TOP_LEVEL = ("defaults", "jobs", "profile", "tracking", "notify")
EXTENSION_PREFIX = "x-"


@frozen_dataclass
class Position:
    line: int
    column: int


class Document:
    """A parsed YAML file plus the position of every key, for precise errors."""

    def __init__(self, path: str, data: Value, positions: dict[KeyPath, Position]) -> None:
        self.path = path
        self.data = data
        self.positions = positions
        #: Matrices larger than this are refused before they are expanded (`--max-jobs`).
        self.max_jobs = DEFAULT_MAX_JOBS

    def error(self, keys: KeyPath, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            self.path,
            message,
            line=self.position(keys).line,
            column=self.position(keys).column,
            key=".".join(keys) or None,
            hint=hint,
        )

    def position(self, keys: KeyPath) -> Position:
        """Where `keys` is, or its nearest recorded parent: every error names a line."""
        while keys and keys not in self.positions:
            keys = keys[:-1]
        return self.positions.get(keys, Position(1, 1))


def is_known_top_level(name: str) -> bool:
    """`defaults`, `jobs`, `profile`, `tracking`, or an `x-` key: a place for anchors (as in Docker
    Compose), so blocks merged into several jobs need not live inside one of them."""
    return name in TOP_LEVEL or name.startswith(EXTENSION_PREFIX)
