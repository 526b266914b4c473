"""Everything a finished run leaves in summaries/, written the same way for a live run,
a summary rebuilt from a journal, and shards merged into one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.report import junit, markdown
from orchestrator.report.summary import write_atomic, write_summary

MARKDOWN = "summary.md"
JUNIT = "junit.xml"


def write_reports(summary: Mapping[str, Any], summary_dir: Path, run_id: str, base: Path) -> Path:
    """The JSON summary (+ latest.json), summary.md, junit.xml and GitHub's step summary.

    A shard's run leaves the step summary to the merge job, which shows the whole run.
    """
    path = write_summary(summary, summary_dir, run_id)
    text = markdown.render(summary, base)
    write_atomic(summary_dir / MARKDOWN, text)
    write_atomic(summary_dir / JUNIT, junit.render(summary, base))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and not summary["options"].get("shard"):
        with Path(step_summary).open("a", encoding="utf-8") as handle:
            handle.write(text)
    return path
