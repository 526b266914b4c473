"""What GitHub Actions shows of a run: a failing job's log tail as a collapsed group,
`::error`/`::warning` annotations, the step summary and the step's outputs.

The run prints the log tails and annotations when GITHUB_ACTIONS says it is on GitHub; the
step summary and outputs are written only where GitHub names their files.
"""

from __future__ import annotations

import errno
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.models import JobResult, Status
from orchestrator.report.console import print_warning
from orchestrator.report.logs import tail_lines

if TYPE_CHECKING:
    from orchestrator.run_summary import JobRecord, RunSummary


def github_log_tail(result: JobResult, lines: int = 50) -> None:
    """A failing job's log tail in a collapsed group of the GitHub Actions log.

    The tail is the child's own output, so workflow commands are switched off around it
    (`::stop-commands::`): a line like `::add-mask::` or `::error::` in a log must not act.
    """
    import secrets  # only a run on GitHub that has a failure needs it

    job = result.job
    token = secrets.token_hex(8)
    print(f"::group::{job.id}: last {lines} log lines ({job.log_path})")
    print(f"::stop-commands::{token}")
    print("\n".join(tail_lines(Path(job.log_path), lines)))
    print(f"::{token}::")
    print("::endgroup::", flush=True)


#: GitHub shows at most this many annotations of one type per step.
ANNOTATION_LIMIT = 10


def github_annotations(summary: RunSummary) -> None:
    """`::error` for required jobs that did not succeed, `::warning` for optional ones (and
    for failed gates that `--gates report` only reports).

    Past GitHub's limit per type the rest are folded into one last annotation, so none is
    silently dropped.
    """
    fine = {Status.SUCCEEDED, Status.SKIPPED}
    problems = [job for job in summary.jobs if job.status not in fine]
    reported_only = summary.options.get("gates") == "report"

    def is_warning(job: JobRecord) -> bool:
        return job.optional or (reported_only and job.status is Status.GATE_FAILED)

    for level, warning in (("error", False), ("warning", True)):
        jobs = [j for j in problems if is_warning(j) is warning]
        shown = jobs if len(jobs) <= ANNOTATION_LIMIT else jobs[: ANNOTATION_LIMIT - 1]
        for job in shown:
            log = f" (log: {job.log_path})" if job.attempts else ""  # none: not this run's
            message = f"{job.id} {job.status.value}: {job.reason or ''}{log}"
            print(f"::{level} title={_escape_property(job.id)}::{_escape_data(message)}")
        rest = jobs[len(shown) :]
        if rest:
            names = ", ".join(j.id for j in rest)
            print(f"::{level} title={len(rest)} more jobs::{_escape_data(names)}")
    sys.stdout.flush()


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


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
    """GitHub's files are a courtesy to the reader: failing to write one loses nothing else.

    Opened without blocking: a FIFO that nobody reads would otherwise hold the run's end,
    deaf to Ctrl-C, for ever. One with a reader (`/dev/stderr` to see the Markdown) is then
    written as any file.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        reason = "a FIFO that nobody reads" if exc.errno == errno.ENXIO else exc.strerror
        print_warning(f"could not write {what} ({path}): {reason}")
