"""The one table of config keys, and what is derived from it.

Each key's validator, its JSON Schema (`orchestrator/schemas/config.schema.json`, for
editors) and its row in README's table (`run-all-training config-schema`) sit side by
side here, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.config import validate
from orchestrator.config.document import EXTENSION_PREFIX
from orchestrator.config.matrix import matrix
from orchestrator.config.notify import NOTIFY_SCHEMA
from orchestrator.config.sweep import PRUNERS, SAMPLERS, sweep
from orchestrator.config.tracking import register
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


_SCALAR = {"type": ["string", "number", "boolean"]}
_TEXT = {"type": "string", "pattern": r"\S"}
_TEXT_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": _SCALAR}]}
_SECONDS = {"type": "number", "minimum": 0}
_AUTO = {"const": "auto"}
_SIZE: dict[str, Any] = {
    "title": "size",
    "anyOf": [
        {"type": "integer", "minimum": 1 << 20},
        {"type": "string", "pattern": validate.SIZE_PATTERN},
    ],
}


def _enum_list(*choices: str) -> dict[str, Any]:
    return {"anyOf": [{"enum": list(choices)}, {"type": "array", "items": {"enum": list(choices)}}]}


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
    "retry_delay": Key(validate.seconds, _SECONDS, "seconds before attempt 2", "2"),
    "backoff": Key(
        validate.factor,
        {"type": "number", "minimum": 1},
        "each further wait is this many times longer (±20% jitter)",
        "1",
    ),
    "retry_max_delay": Key(validate.seconds, _SECONDS, "cap on the wait between attempts", "60"),
    "retry_on": Key(
        validate.one_or_more_of("failed", "timed_out", "out_of_memory"),
        _enum_list("failed", "timed_out", "out_of_memory"),
        "which outcomes are retried",
        "[failed, timed_out]",
    ),
    "timeout": Key(
        validate.positive_seconds,
        {"type": "number", "exclusiveMinimum": 0},
        "seconds per attempt, then SIGTERM, grace, SIGKILL",
        "--timeout, none",
    ),
    "grace": Key(validate.seconds, _SECONDS, "seconds between SIGTERM and SIGKILL", "--grace, 10"),
    "cpus": Key(
        validate.or_auto(validate.whole_number(1)),
        {"anyOf": [{"type": "integer", "minimum": 1}, _AUTO], "title": "int ≥ 1 or auto"},
        "CPU tokens held while running; also its BLAS/OpenMP thread count. auto: its mean "
        "CPU use last time, rounded up",
        "1",
    ),
    "memory": Key(
        validate.or_auto(validate.memory_size),
        {"anyOf": [*_SIZE["anyOf"], _AUTO], "title": "size or auto"},
        "memory held while running (bytes, or 512M, 2G): a job starts only when it fits in "
        "--memory. auto: its peak last time + 20 %",
        "none",
    ),
    "memory_limit": Key(
        validate.memory_size,
        _SIZE,
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
            "additionalProperties": _SCALAR,
        },
        "environment variables added for the job",
    ),
    "tags": Key(validate.text_set, _TEXT_LIST, "names for --only/--exclude tag:NAME"),
    "redact": Key(
        validate.text_set,
        _TEXT_LIST,
        "env var names whose values are masked as *** in everything written "
        "(names with TOKEN, SECRET, PASSWORD, KEY are masked anyway)",
    ),
    "args": Key(
        validate.args,
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": _SCALAR},
                {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]
                    },
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
        _TEXT,
        "a Python script, run with the orchestrator's interpreter",
        "the discovered train_<id>.py",
    ),
    "command": Key(
        validate.command,
        {
            "anyOf": [
                _TEXT,
                {
                    "type": "array",
                    "prefixItems": [{**_SCALAR, "pattern": r"\S"}],
                    "items": _SCALAR,
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
    "description": Key(validate.text, _TEXT, "shown in --list --format json"),
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
        _TEXT_LIST,
        "what comes before every flag, such as a subcommand (fit); [] for none",
        "detected (LightningCLI: fit)",
    ),
    "headline": Key(
        validate.text, _TEXT, "the metric shown first in tables", "accuracy, f1, ... r2, rmse"
    ),
    "gates": Key(
        validate.gates,
        {"type": "object", "additionalProperties": {"type": "string", "pattern": GATE_PATTERN}},
        "checks on metrics.json ({accuracy: '>= 0.9'}); a miss is gate_failed",
    ),
    "needs": Key(validate.text_set, _TEXT_LIST, "jobs that must succeed first"),
    "promote": Key(
        validate.promote,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": validate.MODEL_NAME_PATTERN},
                "artifact": _TEXT,
            },
        },
        "after a success with every gate passed, copy `artifact` (default model.joblib, "
        "in the output dir) to models/<name>/<version>/ and point models/<name>/latest at it",
    ),
    "inputs": Key(
        validate.text_set,
        _TEXT_LIST,
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
        {
            "type": "object",
            "required": ["metric", "params"],
            "additionalProperties": False,
            "properties": {
                "metric": _TEXT,
                "direction": {"enum": ["maximize", "minimize"]},
                "n_trials": {"type": "integer", "minimum": 1},
                "timeout": {"type": "number", "exclusiveMinimum": 0},
                "sampler": {"enum": list(SAMPLERS)},
                "pruner": {"enum": list(PRUNERS)},
                "parallel": {"type": "integer", "minimum": 1},
                "params": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": 2,
                        "properties": {
                            "float": {
                                "type": "array",
                                "items": {"type": "number"},
                                "minItems": 2,
                                "maxItems": 2,
                            },
                            "int": {
                                "type": "array",
                                "items": {"type": "integer"},
                                "minItems": 2,
                                "maxItems": 2,
                            },
                            "choices": {"type": "array", "items": _SCALAR, "minItems": 1},
                            "log": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
        "an Optuna study run as trials of this job: metric (a key of metrics.json), direction, "
        "n_trials, timeout, params, sampler (tpe/random/grid/cmaes), pruner "
        "(median/hyperband/none), parallel",
    ),
    "register": Key(
        register,
        {
            "anyOf": [
                _TEXT,
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": _TEXT,
                        "artifact": _TEXT,
                        "alias": {"type": ["string", "null"]},
                    },
                },
            ]
        },
        "with MLflow tracking on: when the job succeeds and every gate passes, its artifact "
        "(model.joblib) becomes a new version of model `name` and `alias` (candidate) moves to it",
    ),
    "matrix": Key(
        matrix({name: COMMON_FIELDS[name].check for name in ("epochs", "folds", "seed")}),
        {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "include": {"type": "array", "items": {"type": "object", "minProperties": 1}},
                "exclude": {"type": "array", "items": {"type": "object", "minProperties": 1}},
            },
            "additionalProperties": {"type": "array", "items": _SCALAR, "minItems": 1},
        },
        "one job per combination, id job[k=v,...], values passed as flags (GitHub-style "
        "include/exclude)",
    ),
}


_TRACKING_SCHEMA = {
    "type": "object",
    "description": "experiment tracking: {mlflow: {experiment, tracking_uri, ui_url, "
    "artifacts: {max_bytes, include, exclude}}}; mlflow: true for the defaults",
    "additionalProperties": False,
    "properties": {
        "mlflow": {
            "anyOf": [
                {"type": ["boolean", "null"]},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "experiment": _TEXT,
                        "tracking_uri": _TEXT,
                        "ui_url": _TEXT,
                        "artifacts": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "max_bytes": {
                                    "anyOf": [
                                        {"type": "integer", "minimum": 0},
                                        {"type": "string", "pattern": validate.SIZE_PATTERN},
                                    ]
                                },
                                "include": _TEXT_LIST,
                                "exclude": _TEXT_LIST,
                            },
                        },
                    },
                },
            ]
        }
    },
}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors (yaml-language-server) and CI."""

    def props(keys: Mapping[str, Key]) -> dict[str, Any]:
        return {name: {**key.schema, "description": key.help} for name, key in keys.items()}

    job = {
        "type": ["object", "null"],
        "properties": props(JOB_FIELDS),
        "additionalProperties": False,
        "dependentSchemas": {"script": {"not": {"required": ["command"]}}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "training-orchestrator job definitions (configs/*.yaml)",
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "defaults": {
                "type": ["object", "null"],
                "properties": props(COMMON_FIELDS),
                "additionalProperties": False,
            },
            "jobs": {"type": ["object", "null"], "additionalProperties": job},
            "tracking": _TRACKING_SCHEMA,
            "notify": NOTIFY_SCHEMA,
            "profile": {
                **_TEXT,
                "description": "makes the file a profile: loaded only "
                "with --profile NAME or --config FILE, never automatically",
            },
        },
        "patternProperties": {
            f"^{EXTENSION_PREFIX}": {"description": "ignored: a place for &anchors to merge"}
        },
    }


def config_reference() -> str:
    """README's "Configure jobs" table: every job key, its type, default and meaning."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{name}` | {_kind(key.schema)} | {key.default} | {key.help} |"
        for name, key in JOB_FIELDS.items()
    ]
    return "\n".join(rows) + "\n"


def _kind(schema: Mapping[str, Any]) -> str:
    if "title" in schema:
        return str(schema["title"])
    if "enum" in schema:
        return " / ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_kind(alt) for alt in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "integer":
        return f"int ≥ {schema['minimum']}"
    if kind == "number":
        return "number > 0" if "exclusiveMinimum" in schema else f"number ≥ {schema['minimum']}"
    return {"boolean": "bool", "object": "mapping", "array": "list"}.get(str(kind), "string")
