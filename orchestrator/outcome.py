"""How job statuses add up to the run's exit code: the one place that decides it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from orchestrator.models import JobResult, Status

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def exit_code(results: Sequence[JobResult], *, allow_partial_success: bool) -> int:
    """0 when every required job succeeded; 1 when one did not.

    Optional jobs are reported but never fail the run. `--allow-partial-success` turns a
    failure into 0 as long as something succeeded: a run where everything failed is never
    green, whatever the flags say.
    """
    required_failed = any(r.status is not Status.SUCCEEDED for r in results if not r.job.optional)
    if not required_failed:
        return EXIT_OK
    any_succeeded = any(r.status is Status.SUCCEEDED for r in results)
    return EXIT_OK if allow_partial_success and any_succeeded else EXIT_FAILED


def status_counts(results: Sequence[JobResult]) -> dict[str, int]:
    counts = Counter(r.status.value for r in results)
    return {status.value: counts[status.value] for status in Status if counts[status.value]}
