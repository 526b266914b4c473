"""The plan stage: job specs → the exact commands a run executes (`build_plan`). Pure.

- `build`: each job's argv, env, output dir and log, and the order jobs start in;
- `script_args`: a job's settings and parameters spelled as its script takes them.
"""

from __future__ import annotations

from orchestrator.jobs import safe_name
from orchestrator.plan.build import (
    DEFAULT_GRACE,
    JOB_ID_VAR,
    THREAD_VARIABLES,
    build_plan,
    needs_variable,
    output_dir_of,
    refuse_clashes,
    start_order,
)
from orchestrator.plan.script_args import (
    declared_flag,
    flag_for,
    knob_for,
    knob_why,
    override_value,
)

__all__ = [  # safe_name lives in jobs/ (merge refuses ids that share one); trial_job.py uses it
    "DEFAULT_GRACE",
    "JOB_ID_VAR",
    "THREAD_VARIABLES",
    "build_plan",
    "declared_flag",
    "flag_for",
    "knob_for",
    "knob_why",
    "needs_variable",
    "output_dir_of",
    "override_value",
    "refuse_clashes",
    "safe_name",
    "start_order",
]
