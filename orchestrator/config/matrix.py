"""A job's `matrix:` → its combinations, by GitHub's `strategy.matrix` rules."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from orchestrator.config.document import Document, KeyPath, Value
from orchestrator.config.json_types import SCALAR
from orchestrator.config.validate import Validator, scalar_text, type_name
from orchestrator.errors import did_you_mean
from orchestrator.models import Pairs

#: For each matrix name that sets one of the job's own fields (epochs, folds, seed), that
#: field's check; any other name is a flag, and its values are passed as text.
FieldChecks = Mapping[str, Validator]


def matrix(own_fields: FieldChecks) -> Validator:
    """The `matrix:` validator; a value for one of `own_fields` is checked like that field,
    on an axis or in an include, so `seed: [-1]` fails as `seed: -1` would."""

    def check(doc: Document, keys: KeyPath, value: Value) -> tuple[Pairs, ...]:
        return _combinations(doc, keys, value, own_fields)

    return check


def _combinations(
    doc: Document, keys: KeyPath, value: Value, own_fields: FieldChecks
) -> tuple[Pairs, ...]:
    """`{seed: [0, 1], depth: [4, 8], exclude: [...], include: [...]}` → the combinations.

    GitHub's `strategy.matrix`, exactly: every combination of the axes, minus those an
    `exclude` entry matches (partially is enough); then each `include` entry is added to
    every one of those combinations it changes no axis value of (its other keys added, or
    overriding what an earlier include added), or, if there is none, is a combination of
    its own. A combination added that way is not extended by later includes.
    """
    if not isinstance(value, dict) or not value:
        raise doc.error(keys, f"expected a mapping of name: [values], got {type_name(value)}")
    axes: dict[str, tuple[str, ...]] = {}
    for name, values in value.items():
        if name not in {"include", "exclude"}:
            axes[str(name)] = _axis(doc, (*keys, str(name)), values, own_fields)
    _refuse_too_many(doc, keys, axes)
    originals = [
        dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
    ]
    if not axes:  # no axes, no combinations: only what `include` adds, as on GitHub
        originals = []
    excludes = _entries(doc, (*keys, "exclude"), value.get("exclude"), own_fields, axes=axes)
    for rule in excludes:
        originals = [c for c in originals if any(c[k] != v for k, v in rule.items())]
    added: list[dict[str, str]] = []
    includes = _entries(doc, (*keys, "include"), value.get("include"), own_fields, axes=None)
    for extra in includes:
        on_axes = {k: v for k, v in extra.items() if k in axes}
        matches = [c for c in originals if all(c[k] == v for k, v in on_axes.items())]
        for combo in matches:
            combo.update(extra)
        if not matches:
            added.append(dict(extra))
    combos = [tuple(combo.items()) for combo in (*originals, *added)]
    if not combos:
        raise doc.error(keys, "every combination is excluded")
    _refuse_repeats(doc, keys, combos, len(originals))
    return tuple(combos)


def _axis(doc: Document, keys: KeyPath, values: Value, own_fields: FieldChecks) -> tuple[str, ...]:
    """An axis's values as text; a value listed twice would make two jobs with one id."""
    if not isinstance(values, list) or not values:
        raise doc.error(keys, "expected a non-empty list of values")
    check = own_fields.get(keys[-1], scalar_text)
    texts = tuple(str(check(doc, (*keys, str(i)), v)) for i, v in enumerate(values))
    first: dict[str, int] = {}
    for index, text in enumerate(texts):
        if first.setdefault(text, index) != index:
            raise doc.error(
                (*keys, str(index)), f"{text!r} is already listed (item {first[text]})", "drop one"
            )
    return texts


def _refuse_too_many(doc: Document, keys: KeyPath, axes: Mapping[str, tuple[str, ...]]) -> None:
    """Counted before any is built: a million combinations would take minutes and
    gigabytes before the run could say it will not run them."""
    count = math.prod(len(values) for values in axes.values())
    if axes and count > doc.max_jobs:
        sizes = " x ".join(str(len(values)) for values in axes.values())
        raise doc.error(
            keys,
            f"{count:,} combinations ({sizes}) is more than --max-jobs {doc.max_jobs:,}",
            "raise --max-jobs to run them all",
        )


def _refuse_repeats(doc: Document, keys: KeyPath, combos: list[Pairs], originals: int) -> None:
    """Two equal combinations would be two jobs with one id (two identical includes)."""
    seen: set[Pairs] = set()
    for index, combo in enumerate(combos):
        if combo in seen:
            where = (*keys, "include", str(index - originals)) if index >= originals else keys
            label = ",".join(f"{k}={v}" for k, v in combo)
            raise doc.error(where, f"the combination [{label}] is listed twice", "drop one")
        seen.add(combo)


def _entries(
    doc: Document,
    keys: KeyPath,
    raw: Value,
    own_fields: FieldChecks,
    *,
    axes: Mapping[str, tuple[str, ...]] | None,
) -> list[dict[str, str]]:
    """`exclude:` or `include:` entries as text; with `axes`, each name must be one of them."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) and e for e in raw):
        raise doc.error(keys, "expected a list of {name: value} mappings")
    entries = []
    for i, entry in enumerate(raw):
        for name in entry:
            if axes is not None and name not in axes:
                raise doc.error(
                    (*keys, str(i)), f"'{name}' is not a matrix axis", did_you_mean(str(name), axes)
                )
        entries.append(
            {
                str(k): str(own_fields.get(str(k), scalar_text)(doc, (*keys, str(i), str(k)), v))
                for k, v in entry.items()
            }
        )
    return entries


#: The JSON Schema of `matrix:` (its row of the key table, config/keys.py).
MATRIX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "include": {"type": "array", "items": {"type": "object", "minProperties": 1}},
        "exclude": {"type": "array", "items": {"type": "object", "minProperties": 1}},
    },
    "additionalProperties": {"type": "array", "items": SCALAR, "minItems": 1},
}
