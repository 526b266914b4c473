"""The values that flow through the pipeline, one stage to the next.

- `specs`: discover → `DiscoveredScript`; config + merge → `JobSpec`;
- `settings`: what a job's config keys become (`Gate`, `RetryPolicy`, `Sweep`, ...);
- `planned`: plan → `PlannedJob` / `Plan`;
- `results`: execute → `Attempt` / `JobResult`, and the `Status` they end in;
- `options`: the command line → `RunOptions`.

All are frozen so a later stage can never change what an earlier stage decided, and
`--dry-run` shows exactly the plan a run executes. Import them from here.
"""

from __future__ import annotations

from orchestrator.models.options import DEFAULT_MAX_JOBS, RunOptions
from orchestrator.models.planned import Plan, PlannedJob
from orchestrator.models.results import Attempt, JobResult, ReusedResult, Status
from orchestrator.models.settings import (
    Gate,
    Promote,
    Register,
    RetryPolicy,
    Sweep,
    SweepParam,
    TrackingConfig,
)
from orchestrator.models.specs import (
    AUTO,
    KNOB_NAMES,
    PRIORITIES,
    STANDARD_FLAGS,
    Auto,
    DiscoveredScript,
    JobSpec,
    Knob,
    Pairs,
    ParamValue,
)

__all__ = [
    "AUTO",
    "DEFAULT_MAX_JOBS",
    "KNOB_NAMES",
    "PRIORITIES",
    "STANDARD_FLAGS",
    "Attempt",
    "Auto",
    "DiscoveredScript",
    "Gate",
    "JobResult",
    "JobSpec",
    "Knob",
    "Pairs",
    "ParamValue",
    "Plan",
    "PlannedJob",
    "Promote",
    "Register",
    "RetryPolicy",
    "ReusedResult",
    "RunOptions",
    "Status",
    "Sweep",
    "SweepParam",
    "TrackingConfig",
]
