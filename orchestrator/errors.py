"""The errors a user can cause. The CLI catches `OrchestratorError` once and exits 2.

Every message names where the problem is (file:line:col and key path for config), so a
user can fix it without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class OrchestratorError(Exception):
    """Bad input from the user: printed without a traceback, exit code 2."""

    exit_code = 2


class ConfigError(OrchestratorError):
    """A YAML file is malformed or holds a value the schema rejects."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.key = key
        self.hint = hint
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class SelectionError(OrchestratorError):
    """`--only`/`--exclude` named nothing that exists, or left nothing to run."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint, or None when nothing is close enough to help."""
    import difflib  # only a mistake needs it: not imported by every command that runs fine

    matches = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"
