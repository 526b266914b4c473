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
from orchestrator.execute.signals import Interrupted, signal_name
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
    """Each target's outcome; never raises for a target that cannot be reached.

    Ctrl-C (or SIGTERM) while sending stops it: the run is over and its summary written,
    so the targets not yet told are skipped, saying so, and the run's exit code stands.
    """
    message = build_message(summary, previous, settings, env, project=project, branch=branch)
    budget = budget or Budget()
    outcomes: list[Outcome] = []
    try:
        for target in settings.targets:
            outcomes.append(deliver(target, message, env, base, budget))
    except (KeyboardInterrupt, Interrupted) as stop:
        name = signal_name(stop.signum) if isinstance(stop, Interrupted) else "SIGINT"
        outcomes += [
            Outcome(target.name, target.kind, "skipped", error=f"interrupted by {name}")
            for target in settings.targets[len(outcomes) :]
        ]
    return tuple(outcomes)


__all__ = ["Budget", "Message", "Outcome", "build_message", "notify_run"]
