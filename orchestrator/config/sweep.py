"""A job's `sweep:` → an Optuna study's `Sweep`, checked whole before any trial runs."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable
from typing import Any

from orchestrator.config.document import Document, KeyPath, Value
from orchestrator.config.json_types import SCALAR, TEXT
from orchestrator.config.validate import (
    boolean,
    finite,
    one_of,
    positive_seconds,
    scalar_text,
    text,
    type_name,
    whole_number,
)
from orchestrator.errors import did_you_mean
from orchestrator.models import Sweep, SweepParam

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
SWEEP_KEYS = (
    "metric",
    "direction",
    "n_trials",
    "timeout",
    "params",
    "sampler",
    "pruner",
    "parallel",
)


def sweep(doc: Document, keys: KeyPath, value: Value) -> Sweep:
    """An Optuna sweep, checked whole now so a bad spec fails before any trial runs."""
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping with metric and params, got {type_name(value)}")
    for name in value:
        if name not in SWEEP_KEYS:
            raise doc.error((*keys, str(name)), "unknown key", did_you_mean(str(name), SWEEP_KEYS))
    for required in ("metric", "params"):
        if required not in value:
            raise doc.error(keys, f"'{required}' is required")
    raw = value["params"]
    if not isinstance(raw, dict) or not raw:
        raise doc.error((*keys, "params"), "expected a mapping of name: {float|int|choices: ...}")
    params = tuple(_sweep_param(doc, (*keys, "params", str(n)), str(n), p) for n, p in raw.items())
    sampler = one_of(*SAMPLERS)(doc, (*keys, "sampler"), value.get("sampler", "tpe"))
    if sampler == "grid" and any(p.kind == "float" for p in params):
        raise doc.error((*keys, "sampler"), "grid needs int or choices params, not float ranges")
    if sampler == "grid":
        _refuse_huge_grid(doc, (*keys, "params"), params)
    study = Sweep(
        metric=text(doc, (*keys, "metric"), value["metric"]),
        direction=one_of("maximize", "minimize")(
            doc, (*keys, "direction"), value.get("direction", "maximize")
        ),
        n_trials=whole_number(1)(doc, (*keys, "n_trials"), value.get("n_trials", 10)),
        timeout=(
            positive_seconds(doc, (*keys, "timeout"), value["timeout"])
            if "timeout" in value
            else None
        ),
        params=params,
        sampler=sampler,
        pruner=one_of(*PRUNERS)(doc, (*keys, "pruner"), value.get("pruner", "median")),
        parallel=whole_number(1)(doc, (*keys, "parallel"), value.get("parallel", 1)),
    )
    digest = hashlib.sha256(repr(dataclasses.replace(study, timeout=None)).encode()).hexdigest()
    return dataclasses.replace(study, digest=digest[:10])


#: Points a grid sweep may have: Optuna's grid sampler lists every point before the first
#: trial, so `int: [0, 1000000000]` would take gigabytes and minutes, whatever `n_trials`.
MAX_GRID_POINTS = 100_000


def _refuse_huge_grid(doc: Document, keys: KeyPath, params: Iterable[SweepParam]) -> None:
    sizes = [
        len(p.choices) if p.kind == "choices" else int(p.high) - int(p.low) + 1 for p in params
    ]
    if math.prod(sizes) > MAX_GRID_POINTS:
        raise doc.error(
            keys,
            f"a grid of {math.prod(sizes):,} points ({' x '.join(map(str, sizes))}) is more than "
            f"{MAX_GRID_POINTS:,}",
            "narrow the ranges, or use the tpe or random sampler",
        )


def _sweep_param(doc: Document, keys: KeyPath, name: str, spec: Value) -> SweepParam:
    kinds = [k for k in ("float", "int", "choices") if isinstance(spec, dict) and k in spec]
    if len(kinds) != 1:
        raise doc.error(
            keys,
            "expected exactly one of {float: [low, high]}, {int: [low, high]}, {choices: [...]}",
        )
    kind = kinds[0]
    extra = set(spec) - {kind, "log"}
    if extra:
        raise doc.error((*keys, sorted(extra)[0]), "unknown key", "did you mean 'log'?")
    if kind == "choices":
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise doc.error((*keys, "choices"), "expected a non-empty list")
        return SweepParam(
            name,
            kind,
            choices=tuple(
                scalar_text(doc, (*keys, "choices", str(i)), c) for i, c in enumerate(choices)
            ),
        )
    bounds = spec[kind]
    number = (int,) if kind == "int" else (int, float)
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(isinstance(b, number) and not isinstance(b, bool) for b in bounds)
    ):
        raise doc.error((*keys, kind), f"expected [low, high] as {kind}s, got {bounds!r}")
    for index, bound in enumerate(bounds):
        finite(doc, (*keys, kind, str(index)), bound, "a number")
    low, high = bounds
    if low >= high:
        raise doc.error((*keys, kind), f"low must be below high, got [{low}, {high}]")
    log = boolean(doc, (*keys, "log"), spec.get("log", False))
    if log and low <= 0:
        raise doc.error((*keys, kind), f"a log range needs low > 0, got {low}")
    return SweepParam(name, kind, float(low), float(high), log)


#: The JSON Schema of `sweep:` (its row of the key table, config/keys.py).
SWEEP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["metric", "params"],
    "additionalProperties": False,
    "properties": {
        "metric": TEXT,
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
                    "choices": {"type": "array", "items": SCALAR, "minItems": 1},
                    "log": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
        },
    },
}
