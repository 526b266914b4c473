"""Stop the attempts a resumed run left running, as a cancel of that run would have."""

from __future__ import annotations

from orchestrator.decide import Leftover
from orchestrator.execute.procfs import boot_id, start_time
from orchestrator.execute.signals import stop_groups
from orchestrator.models import Plan
from orchestrator.plan import DEFAULT_GRACE


def still_running(leftovers: tuple[Leftover, ...]) -> tuple[Leftover, ...]:
    """Those whose pid is still the process the journal recorded: a pid whose start time
    (or boot) differs is another process now, and is left alone."""
    return tuple(
        old
        for old in leftovers
        if start_time(old.pid) == old.starttime and old.boot_id in {None, boot_id()}
    )


def stop_leftovers(live: tuple[Leftover, ...], plan: Plan) -> None:
    """Stop them, each with its job's grace (SIGTERM to the group, SIGKILL after it).

    Call it holding the run lock: then no live orchestrator owns them (the lock dies
    with its holder), so nothing would ever record their result, and the attempt this
    run starts would write the same output dir alongside them. The grace gives them time
    to write a checkpoint that the new attempt can resume from.
    """
    graces = {job.id: job.grace for job in plan.jobs}
    stop_groups({old.pid: graces.get(old.job, DEFAULT_GRACE) for old in live})
