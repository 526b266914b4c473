"""A sweep trial as a job: the sweep's command with the trial's params, its own dir and log.

No Optuna here: `--dry-run` shows an example trial with it (report/listing.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.models import PlannedJob
from orchestrator.plan import safe_name
from orchestrator.studies import trial_dir


def trial_job(
    parent: PlannedJob, trials_dir: str, number: int, params: Mapping[str, Any]
) -> PlannedJob:
    """The parent's command with this trial's params, in its own dir and log.

    The dir is under the study's own trials dir: trial numbers restart with each study,
    and a new study must not read an older one's progress.jsonl or overwrite its outputs.
    """
    trial_id = f"{parent.id}[trial={number}]"
    output_dir = trial_dir(trials_dir, number)
    argv = list(parent.argv)
    for name, flag in parent.sweep_flags:
        argv = _with_flag(argv, flag, str(params[name]))
    env = {
        **dict(parent.env),
        "TRAIN_ORCH_OUTPUT_DIR": output_dir,
        "TRAIN_ORCH_JOB_ID": trial_id,
        "TRAIN_ORCH_TRIAL": str(number),
    }
    return replace(
        parent,
        id=trial_id,
        argv=tuple(_with_flag(argv, _output_flag(parent), output_dir)),
        env=tuple(env.items()),
        output_dir=output_dir,
        optional=True,
        sweep=None,
        log_path=str(Path(parent.log_path).with_name(f"{safe_name(trial_id)}.log")),
        tags=(*parent.tags, f"sweep:{parent.id}"),
        needs=(),
        needs_outside=(),
        cache=False,
        gates=(),
        promote=None,  # a trial's model is a candidate; the sweep's job is what is promoted
    )


def _output_flag(job: PlannedJob) -> str:
    """The flag the parent passes its output dir with (trials need their own dir)."""
    argv = list(job.argv)
    for flag, value in itertools.pairwise(argv):
        if value == job.output_dir and flag.startswith("-"):
            return flag
    return ""


def _with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """`argv` with `flag value`, replacing the flag's value if it is already there."""
    if not flag:
        return argv
    if flag in argv[:-1]:
        index = argv.index(flag)
        return [*argv[: index + 1], value, *argv[index + 2 :]]
    return [*argv, flag, value]
