"""Telling people a run ended: Slack, a generic JSON webhook, e-mail (`notify:` in config).

- `message`: the run's end as a value (verdict, counts, failures, regressions, links);
- `render`: that value per channel;
- `send`: delivery with bounded retries and time; `smtp`: the e-mail client.

`notify_run` is what a run calls once its summary is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from orchestrator.config import Notify
from orchestrator.notify.message import Message, build_message
from orchestrator.notify.send import Budget, Outcome, deliver
from orchestrator.run_summary import RunSummary


def notify_run(
    settings: Notify,
    summary: RunSummary,
    previous: RunSummary | None,
    env: Mapping[str, str],
    base: Path,
    *,
    project: str,
    branch: str | None,
    budget: Budget | None = None,
) -> tuple[Outcome, ...]:
    """Each target's outcome; never raises for a target that cannot be reached."""
    message = build_message(summary, previous, settings, env, project=project, branch=branch)
    budget = budget or Budget()
    return tuple(deliver(target, message, env, base, budget) for target in settings.targets)


__all__ = ["Budget", "Message", "Outcome", "build_message", "notify_run"]
