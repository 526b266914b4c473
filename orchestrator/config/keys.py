"""The one table of a job's config keys (`defaults:` and `jobs:`).

Each key's validator, its JSON Schema and its README help sit side by side here, so they
cannot drift apart; `export.py` builds the published schema and README's table from them.
A sub-language with keys of its own (`sweep:`, `matrix:`, `register:`) keeps its schema
beside its checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.config import validate
from orchestrator.config.json_types import (
    AUTO,
    SCALAR,
    SECONDS,
    SIZE,
    TEXT,
    TEXT_LIST,
    enum_list,
)
from orchestrator.config.matrix import MATRIX_SCHEMA, matrix
from orchestrator.config.sweep import SWEEP_SCHEMA, sweep
from orchestrator.config.tracking import REGISTER_SCHEMA, register
from orchestrator.config.validate import Validator
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.gates import GATE_PATTERN
from orchestrator.models import PRIORITIES, STANDARD_FLAGS


@frozen_dataclass
class Key:
    """One config key: how it is checked, its JSON Schema, and its documentation.

    The validator, the published schema and README's table come from these, so they
    cannot drift apart.
    """

    check: Validator
    schema: Mapping[str, Any]
    help: str
    default: str = "—"


COMMON_FIELDS: dict[str, Key] = {
    "epochs": Key(
        validate.whole_number(1),
        {"type": "integer", "minimum": 1},
        "passed as --epochs if the script declares it; --epochs wins",
    ),
    "folds": Key(
        validate.whole_number(2),
        {"type": "integer", "minimum": 2},
        "passed as --folds if the script declares it; --folds wins",
    ),
    "seed": Key(
        validate.whole_number(0), {"type": "integer", "minimum": 0}, "passed as --seed if declared"
    ),
    "knobs": Key(
        validate.one_of("certain", "likely"),
        {"enum": ["certain", "likely"]},
        "which detected knobs (--list) are passed: only certain ones, or likely ones too",
        "certain",
    ),
    "retries": Key(
        validate.whole_number(0),
        {"type": "integer", "minimum": 0},
        "extra attempts after a failure (--retries wins)",
        "0",
    ),
    "retry_delay": Key(validate.seconds, SECONDS, "seconds before attempt 2", "2"),
    "backoff": Key(
        validate.factor,
        {"type": "number", "minimum": 1},
        "each further wait is this many times longer (±20% jitter)",
        "1",
    ),
    "retry_max_delay": Key(validate.seconds, SECONDS, "cap on the wait between attempts", "60"),
    "retry_on": Key(
        validate.one_or_more_of("failed", "timed_out", "out_of_memory"),
        enum_list("failed", "timed_out", "out_of_memory"),
        "which outcomes are retried",
        "[failed, timed_out]",
    ),
    "timeout": Key(
        validate.positive_seconds,
        {"type": "number", "exclusiveMinimum": 0},
        "seconds per attempt, then SIGTERM, grace, SIGKILL",
        "--timeout, none",
    ),
    "grace": Key(validate.seconds, SECONDS, "seconds between SIGTERM and SIGKILL", "--grace, 10"),
    "cpus": Key(
        validate.or_auto(validate.whole_number(1)),
        {"anyOf": [{"type": "integer", "minimum": 1}, AUTO], "title": "int ≥ 1 or auto"},
        "CPU tokens held while running; also its BLAS/OpenMP thread count. auto: its mean "
        "CPU use last time, rounded up",
        "1",
    ),
    "memory": Key(
        validate.or_auto(validate.memory_size),
        {"anyOf": [*SIZE["anyOf"], AUTO], "title": "size or auto"},
        "memory held while running (bytes, or 512M, 2G): a job starts only when it fits in "
        "--memory. auto: its peak last time + 20 %",
        "none",
    ),
    "memory_limit": Key(
        validate.memory_size,
        SIZE,
        "memory its processes may use together (bytes, or 512M, 2G); past it the job is "
        "stopped as out_of_memory",
        "--memory-limit, none",
    ),
    "gpus": Key(
        validate.seconds,
        {"type": "number", "minimum": 0},
        "GPUs requested from Ray (--backend ray)",
        "0",
    ),
    "resources": Key(
        validate.resources,
        {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        "custom Ray resources requested, {name: amount}",
    ),
    "priority": Key(
        validate.one_of(*PRIORITIES),
        {"enum": list(PRIORITIES)},
        "ready jobs start by priority, then longest first",
        "normal",
    ),
    "optional": Key(
        validate.boolean,
        {"type": "boolean"},
        "a failure is reported but does not fail the run",
        "false",
    ),
    "env": Key(
        validate.env,
        {
            "type": "object",
            "propertyNames": {"pattern": "^[^=\\x00]+$"},
            "additionalProperties": SCALAR,
        },
        "environment variables added for the job",
    ),
    "tags": Key(validate.text_set, TEXT_LIST, "names for --only/--exclude tag:NAME"),
    "redact": Key(
        validate.text_set,
        TEXT_LIST,
        "env var names whose values are masked as *** in everything written "
        "(names with TOKEN, SECRET, PASSWORD, KEY are masked anyway)",
    ),
    "args": Key(
        validate.args,
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": SCALAR},
                {
                    "type": "object",
                    "additionalProperties": {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]},
                },
            ]
        },
        "a list passed as is, or a mapping turned into flags (max_depth: 4 → --max-depth 4)",
    ),
}
JOB_FIELDS: dict[str, Key] = {
    **COMMON_FIELDS,
    "script": Key(
        validate.text,
        TEXT,
        "a Python script, run with the orchestrator's interpreter",
        "the discovered train_<id>.py",
    ),
    "command": Key(
        validate.command,
        {
            "anyOf": [
                TEXT,
                {
                    "type": "array",
                    "prefixItems": [{**SCALAR, "pattern": r"\S"}],
                    "items": SCALAR,
                    "minItems": 1,
                },
            ]
        },
        "any argv instead of a script (a string is split like a shell)",
    ),
    "enabled": Key(
        validate.boolean,
        {"type": "boolean"},
        "false: runs only when named exactly in --only",
        "true",
    ),
    "description": Key(validate.text, TEXT, "shown in --list --format json"),
    "flag_names": Key(
        validate.flag_names,
        {
            "type": "object",
            "propertyNames": {"enum": list(STANDARD_FLAGS)},
            "additionalProperties": {"type": "string", "pattern": "^-"},
        },
        "the script's own name for a standard flag ({epochs: --num_train_epochs})",
    ),
    "args_prefix": Key(
        validate.text_list,
        TEXT_LIST,
        "what comes before every flag, such as a subcommand (fit); [] for none",
        "detected (LightningCLI: fit)",
    ),
    "headline": Key(
        validate.text, TEXT, "the metric shown first in tables", "accuracy, f1, ... r2, rmse"
    ),
    "gates": Key(
        validate.gates,
        {"type": "object", "additionalProperties": {"type": "string", "pattern": GATE_PATTERN}},
        "checks on metrics.json ({accuracy: '>= 0.9'}); a miss is gate_failed",
    ),
    "needs": Key(validate.text_set, TEXT_LIST, "jobs that must succeed first"),
    "promote": Key(
        validate.promote,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": validate.MODEL_NAME_PATTERN},
                "artifact": TEXT,
            },
        },
        "after a success with every gate passed, copy `artifact` (default model.joblib, "
        "in the output dir) to models/<name>/<version>/ and point models/<name>/latest at it",
    ),
    "inputs": Key(
        validate.text_set,
        TEXT_LIST,
        "file globs whose content is part of the job's fingerprint (skip-unchanged)",
    ),
    "cache": Key(
        validate.boolean, {"type": "boolean"}, "false: never skipped as unchanged", "true"
    ),
    "metric_directions": Key(
        validate.directions,
        {"type": "object", "additionalProperties": {"enum": ["higher", "lower"]}},
        "for compare: which way each metric is better ({rmse: lower})",
        "by name",
    ),
    "regress_tolerance": Key(
        validate.tolerances,
        {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        "for compare: relative change per metric that counts as a regression",
        "--tolerance",
    ),
    "resource_tolerance": Key(
        validate.resource_tolerances("peak_memory", "cpu_time"),
        {
            "type": "object",
            "properties": {
                "peak_memory": {"type": "number", "minimum": 0},
                "cpu_time": {"type": "number", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "for compare: relative growth of peak_memory / cpu_time that counts as a regression",
        "--memory-tolerance, --cpu-tolerance",
    ),
    "sweep": Key(
        sweep,
        SWEEP_SCHEMA,
        "an Optuna study run as trials of this job: metric (a key of metrics.json), direction, "
        "n_trials, timeout, params, sampler (tpe/random/grid/cmaes), pruner "
        "(median/hyperband/none), parallel",
    ),
    "register": Key(
        register,
        REGISTER_SCHEMA,
        "with MLflow tracking on: when the job succeeds and every gate passes, its artifact "
        "(model.joblib) becomes a new version of model `name` and `alias` (candidate) moves to it",
    ),
    "matrix": Key(
        matrix({name: COMMON_FIELDS[name].check for name in ("epochs", "folds", "seed")}),
        MATRIX_SCHEMA,
        "one job per combination, id job[k=v,...], values passed as flags (GitHub-style "
        "include/exclude)",
    ),
}
