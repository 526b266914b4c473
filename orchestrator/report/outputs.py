"""Everything a finished run leaves in summaries/, written the same way for a live run,
a summary rebuilt from a journal, and shards merged into one; and what GitHub Actions
reads back: the step summary and the step's outputs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.report import console, junit, markdown
from orchestrator.report.summary import write_atomic, write_summary
from orchestrator.run_summary import from_document

MARKDOWN = "summary.md"
JUNIT = "junit.xml"


def write_reports(summary: Mapping[str, Any], summary_dir: Path, run_id: str, base: Path) -> Path:
    """The JSON summary (+ latest.json), summary.md, junit.xml and GitHub's step summary.

    A shard's run leaves the step summary to the merge job, which shows the whole run.
    latest.json comes last: whoever finds it finds the rest of this run's reports beside it.
    """
    # The Markdown reads the typed summary; until the run builds one itself (issue 18
    # point 1), it is parsed from the dict the run writes.
    typed = from_document(summary, "the run's summary")
    text = markdown.render(typed, base)
    summary_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(summary_dir / MARKDOWN, text)
    write_atomic(summary_dir / JUNIT, junit.render(summary, base))
    path = write_summary(summary, summary_dir, run_id)
    if not summary["options"].get("shard"):
        append_step_summary(text)
    set_step_outputs(
        {
            "exit-code": str(summary["exit_code"]),
            "verdict": markdown.verdict(typed).removeprefix("## "),
            "summary-path": str(path.resolve()),
        }
    )
    return path


def append_step_summary(text: str) -> None:
    """Add to GitHub's step summary, when running in a GitHub Actions step."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        _append(target, text, "the step summary")


def set_step_outputs(values: Mapping[str, str]) -> None:
    """Write the step's outputs (`steps.<id>.outputs.<name>`) when in a GitHub Actions step.

    Each value goes in GitHub's multi-line form with a random delimiter, so no value (a
    verdict naming a hostile job id, say) can end it early and forge another output.
    """
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        text = "".join(
            f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
            for name, value in values.items()
            for delimiter in [f"ghadelimiter_{uuid.uuid4()}"]
        )
        _append(target, text, "the step outputs")


def _append(path: str, text: str, what: str) -> None:
    """GitHub's files are a courtesy to the reader: failing to write one loses nothing else."""
    try:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        console.print_warning(f"could not write {what} ({path}): {exc.strerror}")
