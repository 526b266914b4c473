"""How job statuses add up to the run's exit code: the one place that decides it."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.models import JobResult, Status

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def exit_code(
    results: Sequence[JobResult], *, allow_partial_success: bool, enforce_gates: bool = True
) -> int:
    """The run's exit code from its job results (see `exit_code_for`)."""
    return exit_code_for(
        [(r.status, r.job.optional) for r in results],
        allow_partial_success=allow_partial_success,
        enforce_gates=enforce_gates,
    )


def exit_code_for(
    outcomes: Sequence[tuple[Status, bool]],
    *,
    allow_partial_success: bool,
    enforce_gates: bool = True,
) -> int:
    """0 when every required job succeeded; 1 when one did not.

    Optional jobs are reported but never fail the run. `--allow-partial-success` turns a
    failure into 0 as long as something succeeded: a run where everything failed is never
    green, whatever the flags say. With gates only reported, a gate failure is not one.
    """
    outcomes = [
        (Status.SUCCEEDED if status is Status.GATE_FAILED and not enforce_gates else status, opt)
        for status, opt in outcomes
    ]
    required_failed = any(not status.ok for status, optional in outcomes if not optional)
    if not required_failed:
        return EXIT_OK
    any_succeeded = any(status.ok for status, _ in outcomes)
    return EXIT_OK if allow_partial_success and any_succeeded else EXIT_FAILED
