"""The run's side of notifying: find the run before, send, say so, record it.

Called once the summary is written, so a message never delays or risks the results; the
outcomes are then added to the summary (rewritten atomically) and printed after the
run's table.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from orchestrator.config import Notify
from orchestrator.errors import OrchestratorError
from orchestrator.notify import notify_run
from orchestrator.notify.send import Budget, Outcome
from orchestrator.report import console
from orchestrator.report.summary import write_summary
from orchestrator.run_summary import RunSummary, in_run_order, load, summary_name


def notify_after_run(
    settings: Notify,
    summary: RunSummary,
    summary_dir: Path,
    run_id: str,
    base: Path,
    *,
    previous: RunSummary | None,
    budget: Budget | None = None,
) -> RunSummary:
    """Send, print each outcome, and return the summary with them (written to disk).

    `previous` is the run compared with for `change` and `regression`.
    """
    env = dict(os.environ)
    outcomes = notify_run(
        settings,
        summary,
        previous,
        env,
        base,
        project=base.resolve().name,
        branch=branch(base, env),
        budget=budget,
    )
    for outcome in outcomes:
        _say(outcome)
    summary = dataclasses.replace(summary, notifications=tuple(o.document() for o in outcomes))
    try:
        write_summary(summary, summary_dir, run_id)
    except OSError as exc:
        console.print_warning(f"could not add the notifications to the summary: {exc.strerror}")
    return summary


def previous_run(summary_dir: Path, run_id: str) -> RunSummary | None:
    """The run before this one in the same summaries dir (for `change` and `regression`);
    None for a first run, or when that summary cannot be read."""
    this = summary_dir / summary_name(run_id)
    earlier = [p for p in in_run_order(summary_dir.glob(summary_name("*"))) if p != this]
    ordered = in_run_order([*earlier, this])
    before = ordered[: ordered.index(this)]
    return read_previous(before[-1]) if before else None


def read_previous(path: Path) -> RunSummary | None:
    try:
        return load(path)
    except OrchestratorError as exc:
        console.print_warning(f"notify: the previous run is not compared: {exc}")
        return None


def branch(base: Path, env: dict[str, str]) -> str | None:
    """The branch: GitHub's (a pull request's head), else the checkout's `.git/HEAD`."""
    named = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")
    if named:
        return named
    try:
        head = (base / ".git" / "HEAD").read_text().strip()
    except OSError:
        return None
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: ") else None


def _say(outcome: Outcome) -> None:
    kind = f" ({outcome.kind})" if outcome.kind != outcome.target else ""
    where = f"notify {outcome.target}{kind}"
    if outcome.status == "sent":
        tries = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        console.print_note(f"{where}: sent{tries}")
    elif outcome.status == "failed":
        console.print_warning(f"{where}: not sent: {outcome.error}; the run's result stands")
    elif outcome.error and not outcome.error.startswith("when:"):
        console.print_warning(f"{where}: not sent: {outcome.error}")
