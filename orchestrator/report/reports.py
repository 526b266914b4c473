"""Everything a finished run leaves in summaries/, written the same way for a live run,
a summary rebuilt from a journal, and shards merged into one; and what GitHub Actions
reads back: the step summary and the step's outputs (written by github.py)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.report import junit, markdown
from orchestrator.report.github import append_step_summary, set_step_outputs
from orchestrator.report.summary import write_atomic, write_summary
from orchestrator.run_summary import RunSummary

MARKDOWN = "summary.md"
JUNIT = "junit.xml"


def write_reports(summary: RunSummary, summary_dir: Path, run_id: str, base: Path) -> Path:
    """The JSON summary (+ latest.json), summary.md, junit.xml and GitHub's step summary.

    A shard's run leaves the step summary to the merge job, which shows the whole run.
    latest.json comes last: whoever finds it finds the rest of this run's reports beside it.
    """
    text = markdown.render(summary, base)
    summary_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(summary_dir / MARKDOWN, text)
    write_atomic(summary_dir / JUNIT, junit.render(summary, base))
    path = write_summary(summary, summary_dir, run_id)
    if not summary.options.get("shard"):
        append_step_summary(text)
    set_step_outputs(
        {
            "exit-code": str(summary.exit_code),
            "verdict": markdown.verdict(summary).removeprefix("## "),
            "summary-path": str(path.resolve()),
        }
    )
    return path
