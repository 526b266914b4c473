"""What a run's end says, as a value: built from its summary and the run before it.

Pure: the environment (GitHub's variables) is passed in, so tests build messages from
summaries they write. Each channel (`render`) only formats this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.config import Notify
from orchestrator.models import Status
from orchestrator.report.history.compare import (
    JobChange,
    MetricChange,
    ResourceChange,
    compare,
)
from orchestrator.report.markdown import is_failure
from orchestrator.report.summary import duration_text
from orchestrator.run_summary import RunSummary

#: Failing jobs listed one by one; past these, a count (a message is read on a phone).
MAX_LISTED = 10
#: A reason's first line, cut to this: the log has the rest.
REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class Failure:
    job: str
    status: str
    reason: str
    optional: bool


@dataclass(frozen=True, slots=True)
class Message:
    """A run's end in the words every channel uses."""

    #: "passed" or "failed" (what the exit code says), "interrupted" when it was stopped.
    verdict: str
    #: The previous run's verdict, or None for the first run (or one unreadable).
    previous_verdict: str | None
    exit_code: int
    counts: Mapping[str, int]
    duration_s: float
    failures: tuple[Failure, ...]
    #: One line per regression against the previous run (required jobs only).
    regressions: tuple[str, ...]
    #: ("GitHub run", url), ("MLflow", url): what exists for this run.
    links: tuple[tuple[str, str], ...]
    project: str
    branch: str | None
    commit: str | None
    started_at: str
    #: Failing jobs beyond `MAX_LISTED`, counted, not listed.
    more_failures: int = 0

    @property
    def icon(self) -> str:
        return "✅" if self.verdict == "passed" else "❌"

    @property
    def counts_text(self) -> str:
        """`6 succeeded · 1 gate failed`, in the order of the statuses."""
        return (
            " · ".join(
                f"{self.counts[s.value]} {s.value.replace('_', ' ')}"
                for s in Status
                if self.counts.get(s.value)
            )
            or "no jobs"
        )

    @property
    def title(self) -> str:
        """`❌ acme/models on main (a1b2c3d): 6 succeeded · 1 gate failed · 41.8s`."""
        where = self.project
        if self.branch:
            where += f" on {self.branch}"
        if self.commit:
            where += f" ({self.commit[:7]})"
        return f"{self.icon} {where}: {self.counts_text} · {duration_text(self.duration_s)}"

    def should_send(self, when: tuple[str, ...]) -> bool:
        """`always`, `failure`, `regression` (against the previous run), `change` (the
        verdict differs from the previous run's; the first run is a change)."""
        return any(
            rule == "always"
            or (rule == "failure" and self.verdict != "passed")
            or (rule == "regression" and bool(self.regressions))
            or (rule == "change" and self.verdict != self.previous_verdict)
            for rule in when
        )


def build_message(
    summary: RunSummary,
    previous: RunSummary | None,
    settings: Notify,
    env: Mapping[str, str],
    *,
    project: str,
    branch: str | None,
) -> Message:
    failing = [job for job in summary.jobs if is_failure(job) and not job.is_trial]
    return Message(
        verdict=verdict(summary),
        previous_verdict=verdict(previous) if previous else None,
        exit_code=summary.exit_code,
        # A sweep's trials are counted in its own row, as in every report.
        counts=dict(Counter(job.status.value for job in summary.jobs if not job.is_trial)),
        duration_s=summary.duration_s,
        failures=tuple(
            Failure(job.id, job.status.value, _one_line(job.reason or ""), job.optional)
            for job in failing[:MAX_LISTED]
        ),
        more_failures=max(0, len(failing) - MAX_LISTED),
        regressions=regressions(previous, summary, settings) if previous else (),
        links=links(summary, env),
        project=env.get("GITHUB_REPOSITORY") or project,
        branch=branch,
        commit=summary.git_commit,
        started_at=summary.started_at,
    )


def verdict(summary: RunSummary) -> str:
    if summary.interrupted_by:
        return "interrupted"
    return "passed" if summary.exit_code == 0 else "failed"


def regressions(previous: RunSummary, summary: RunSummary, settings: Notify) -> tuple[str, ...]:
    """`rf: accuracy 0.965 → 0.923 (-4.4%)`, as `compare` judges them, worst first."""
    comparison = compare(
        previous,
        summary,
        directions=settings.directions,
        tolerances=settings.tolerances,
    )
    return tuple(_regression_text(item) for item in comparison.regressions[:MAX_LISTED])


def _regression_text(item: JobChange | MetricChange | ResourceChange) -> str:
    if isinstance(item, JobChange):
        return f"{item.job}: newly failing ({item.base_status} → {item.head_status})"
    if isinstance(item, ResourceChange):
        return (
            f"{item.job}: {item.resource} {item.base:.4g} → {item.head:.4g} ({item.relative:+.1%})"
        )
    if not item.finite:
        return f"{item.job}: {item.metric} {item.base:.4g} → {item.head} (no longer finite)"
    return f"{item.job}: {item.metric} {item.base:.4g} → {item.head:.4g} ({item.relative:+.1%})"


def links(summary: RunSummary, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    found = []
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        run = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        found.append(("GitHub run", run if attempt == "1" else f"{run}/attempts/{attempt}"))
    mlflow = mlflow_link(summary)
    if mlflow:
        found.append(("MLflow", mlflow))
    return tuple(found)


def mlflow_link(summary: RunSummary) -> str | None:
    """The run's parent run in the MLflow UI, once tracking records it in the summary
    (`tracking: {ui_url, experiment_id, parent_run_id}`, issue 20's tracking part, read
    here by name so that this works before and after that field exists); else none."""
    tracking = getattr(summary, "tracking", None)
    if not isinstance(tracking, Mapping):
        return None
    ui, experiment = tracking.get("ui_url"), tracking.get("experiment_id")
    parent = tracking.get("parent_run_id")
    if not (isinstance(ui, str) and ui.startswith(("http://", "https://")) and experiment):
        return None
    page = f"{ui.rstrip('/')}/#/experiments/{experiment}"
    return f"{page}/runs/{parent}" if parent else page


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"
