"""YAML job definitions → validated, normalised values that remember where they came from.

PyYAML only keeps positions for syntax errors, so the document is composed into nodes first
and every key's position is kept; a schema error can then say `configs/jobs.yaml:12:5:
jobs.xgb.retires: unknown key; did you mean 'retries'?` instead of just "invalid config".
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ConfigError, did_you_mean
from orchestrator.gates import GATE_PATTERN, parse_gate
from orchestrator.models import (
    DEFAULT_MAX_JOBS,
    PRIORITIES,
    STANDARD_FLAGS,
    Gate,
    Pairs,
    Sweep,
    SweepParam,
)

KeyPath = tuple[str, ...]
Value = Any  # a YAML value after validation; each field's validator fixes its real type


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class JobConfig:
    """One job's fields as a config file set them, with where the job was defined."""

    fields: Mapping[str, Value]
    path: str
    line: int | None
    #: The file and line each field was set on, for errors found after loading (`needs`).
    where: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class Config:
    """All config files merged: later files override earlier ones, field by field."""

    defaults: Mapping[str, Value] = field(default_factory=dict)
    jobs: Mapping[str, JobConfig] = field(default_factory=dict)
    files: tuple[str, ...] = ()


class _Doc:
    """A parsed YAML file plus the position of every key, for precise errors."""

    def __init__(self, path: str, data: Value, positions: dict[KeyPath, Position]) -> None:
        self.path = path
        self.data = data
        self.positions = positions
        #: Matrices larger than this are refused before they are expanded (`--max-jobs`).
        self.max_jobs = DEFAULT_MAX_JOBS

    def error(self, keys: KeyPath, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            self.path,
            message,
            line=self.position(keys).line,
            column=self.position(keys).column,
            key=".".join(keys) or None,
            hint=hint,
        )

    def position(self, keys: KeyPath) -> Position:
        """Where `keys` is, or its nearest recorded parent: every error names a line."""
        while keys and keys not in self.positions:
            keys = keys[:-1]
        return self.positions.get(keys, Position(1, 1))


def _parse(path: str, text: str) -> _Doc:
    # libyaml's loader when present: a 10 MB config parses in a second, not a minute.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        # Composing is linear in the file's size (an alias is the anchor's node, shared);
        # the walk checks keys and bounds aliases before anything is built from the nodes.
        node = loader.get_single_node()
        positions = _Walk(path).document(node) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            path,
            f"invalid YAML: {problem}",
            line=mark.line + 1 if mark else 1,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}", line=1) from None
    finally:
        loader.dispose()
    return _Doc(path, data, positions)


#: Nodes aliases may add to a document beyond those written in it. A config reuses a few
#: blocks; "billion laughs" (nine nested aliases in 500 bytes) expands to 10⁹ nodes, which
#: PyYAML would happily build, and every later walk over the values would take minutes.
ALIAS_BUDGET = 100_000
#: Deeper than any key of the schema (`jobs.x.sweep.params.p.float.0` is 6 levels).
MAX_DEPTH = 32
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
#: Plain scalars YAML 1.2 (GitHub, editors' YAML servers) reads as numbers where PyYAML's
#: YAML 1.1 reads text: `1e3`, `0o17`. (YAML 1.1's `y`/`n` booleans are left as text, as
#: PyYAML and YAML 1.2 both read them: `x`, `y`, `z` are fine job names.)
_NUMBER_ELSEWHERE = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


class _Walk:
    """One pass over the composed nodes, before any value is built from them.

    Records where every key is, refuses what PyYAML would build silently or forever
    (duplicate keys, a recursive alias, aliases expanding past `ALIAS_BUDGET`, job ids
    that are not text), and follows YAML merge keys (`<<: *base`, `<<: [*a, *b]`) so a
    key set next to a merge overrides the merged one instead of being a duplicate.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.positions: dict[KeyPath, Position] = {}
        self.budget = ALIAS_BUDGET
        self.seen: set[int] = set()
        self.open: set[int] = set()  # nodes being walked: meeting one again is a cycle

    def document(self, node: yaml.Node) -> dict[KeyPath, Position]:
        if isinstance(node, yaml.MappingNode):
            # Before any value is walked: a typo'd top-level key of a hostile file costs
            # nothing, whatever its value holds.
            for key_node, _ in node.value:
                name = self._key(key_node, ())
                if not _known_top_level(name) and key_node.tag != MERGE_TAG:
                    raise self._error(
                        key_node, (name,), "unknown top-level key", did_you_mean(name, TOP_LEVEL)
                    )
        self._node(node, (), ((), node.start_mark))
        return self.positions

    def _node(self, node: yaml.Node, keys: KeyPath, key: tuple[KeyPath, yaml.Mark]) -> None:
        """Walk `node`, found at `keys`; `key` is the nearest mapping key above it, which
        errors name: an alias's own place is not kept, and a list item's mark is its
        anchor's, possibly far away."""
        if id(node) in self.open:
            raise self._at(key, "a recursive alias (an anchor used inside itself)")
        if id(node) in self.seen:
            self.budget -= 1
            if self.budget < 0:
                raise self._at(key, f"aliases expand this file past {ALIAS_BUDGET:,} values")
        self.seen.add(id(node))
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return
        if len(keys) > MAX_DEPTH:
            raise self._at(key, f"nested more than {MAX_DEPTH} levels deep")
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, keys)
        else:
            for index, item in enumerate(node.value):
                item_keys = (*keys, str(index))
                self.positions[item_keys] = _position(item.start_mark)
                self._node(item, item_keys, key)
        self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, keys: KeyPath) -> None:
        own: dict[str, Position] = {}
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        merge: tuple[yaml.Node, yaml.Node] | None = None
        for key_node, value_node in node.value:
            name = "<<" if key_node.tag == MERGE_TAG else self._key(key_node, keys)
            if name in own:
                raise self._error(
                    key_node,
                    (*keys, name),
                    f"duplicate key (first defined on line {own[name].line})",
                )
            own[name] = _position(key_node.start_mark)
            if key_node.tag == MERGE_TAG:
                merge = (key_node, value_node)
            else:
                explicit.append((key_node, value_node))
        if merge is not None:
            inherited = self._merged(*merge, keys)
            # Built here, not by PyYAML: its merge (6.0.3+) lets a later `<<: [*a, *b]`
            # source win, where YAML says the earlier one does.
            node.value = [pair for name, pair in inherited.items() if name not in own]
            node.value += explicit
        for key_node, value_node in explicit:
            key_keys = (*keys, str(key_node.value))
            self.positions[key_keys] = own[str(key_node.value)]
            self._node(value_node, key_keys, (key_keys, key_node.start_mark))

    def _merged(
        self, key_node: yaml.Node, value_node: yaml.Node, keys: KeyPath
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The pairs `<<:` brings in, by key; of several sources, the first one wins."""
        sources = self._merge_sources(key_node, value_node, keys)
        for source in reversed(sources):  # the first source's positions recorded last
            self._node(source, keys, ((*keys, "<<"), key_node.start_mark))
        inherited: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for source in sources:
            for pair in source.value:  # flattened by the walk: its own merges are resolved
                inherited.setdefault(str(pair[0].value), pair)
        return inherited

    def _merge_sources(
        self, key_node: yaml.Node, value_node: yaml.Node, keys: KeyPath
    ) -> list[yaml.MappingNode]:
        """What `<<:` merges, first one winning (as YAML's merge key defines it)."""
        if isinstance(value_node, yaml.MappingNode):
            return [value_node]
        if isinstance(value_node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in value_node.value
        ):
            return list(value_node.value)
        raise self._error(
            key_node, (*keys, "<<"), "'<<' merges a mapping or a list of mappings (*anchors)"
        )

    def _key(self, key_node: yaml.Node, keys: KeyPath) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            raise self._error(key_node, keys, "a key must be a plain value, not a list or mapping")
        name = str(key_node.value)
        if keys == ("jobs",):
            self._job_id(key_node, name)
        return name

    def _job_id(self, key_node: yaml.ScalarNode, name: str) -> None:
        """A job id is text: `yes`, `null`, `1e3`, `0x10` would be a bool, None or a number
        to some YAML reader; guessing the text back is how `0x10` becomes `16`."""
        plain = not key_node.style  # libyaml says "", PyYAML None
        if key_node.tag != STR_TAG:
            kind = key_node.tag.rsplit(":", 1)[-1]
        elif plain and _NUMBER_ELSEWHERE.fullmatch(name):
            kind = "a number (YAML 1.2)"
        else:
            return
        raise self._error(
            key_node,
            ("jobs", name),
            f"YAML reads this job id as {kind}, not text",
            f'quote it: "{name}"',
        )

    def _error(
        self, key_node: yaml.Node, keys: KeyPath, message: str, hint: str | None = None
    ) -> ConfigError:
        return self._at((keys, key_node.start_mark), message, hint)

    def _at(
        self, key: tuple[KeyPath, yaml.Mark], message: str, hint: str | None = None
    ) -> ConfigError:
        keys, mark = key
        return ConfigError(
            self.path,
            message,
            line=mark.line + 1,
            column=mark.column + 1,
            key=".".join(keys) or None,
            hint=hint,
        )


def _known_top_level(name: str) -> bool:
    """`defaults`, `jobs`, `profile`, or an `x-` key: a place for anchors (as in Docker
    Compose), so blocks merged into several jobs need not live inside one of them."""
    return name in TOP_LEVEL or name.startswith(EXTENSION_PREFIX)


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


# ---------------------------------------------------------------------------- validators
# Each takes the document, the key path and the raw value, and returns the normalised value.
Validator = Callable[[_Doc, KeyPath, Value], Value]


def _type_name(value: Value) -> str:
    return "null" if value is None else type(value).__name__


def _int(minimum: int) -> Validator:
    def check(doc: _Doc, keys: KeyPath, value: Value) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise doc.error(keys, f"expected a whole number, got {_type_name(value)} {value!r}")
        if value < minimum:
            raise doc.error(keys, f"must be at least {minimum}, got {value}")
        return value

    return check


def _finite(doc: _Doc, keys: KeyPath, value: Value, meaning: str) -> float:
    """A number that means an amount: YAML's `.inf` and `.nan` are numbers too, and would
    mean no time limit at all, a wait of forever, or a crash once a run is under way."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(keys, f"expected {meaning}, got {_type_name(value)} {value!r}")
    if not math.isfinite(value):
        raise doc.error(keys, f"expected a finite number, got {value}")
    return float(value)


def _seconds(doc: _Doc, keys: KeyPath, value: Value) -> float:
    seconds = _finite(doc, keys, value, "a number of seconds")
    if seconds < 0:
        raise doc.error(keys, f"must not be negative, got {value}")
    return seconds


def _positive_seconds(doc: _Doc, keys: KeyPath, value: Value) -> float:
    seconds = _seconds(doc, keys, value)
    if seconds == 0:
        raise doc.error(keys, "must be more than 0 seconds")
    return seconds


def _factor(doc: _Doc, keys: KeyPath, value: Value) -> float:
    if _finite(doc, keys, value, "a factor of at least 1") < 1:
        raise doc.error(keys, f"expected a factor of at least 1, got {value!r}")
    return float(value)


def _choice(*choices: str) -> Validator:
    def check(doc: _Doc, keys: KeyPath, value: Value) -> str:
        if value not in choices:
            near = did_you_mean(str(value), choices)
            listing = f"one of {', '.join(choices)}"
            raise doc.error(
                keys, f"unknown value {value!r}", f"{near} ({listing})" if near else listing
            )
        return str(value)

    return check


def _choices(*choices: str) -> Validator:
    one = _choice(*choices)

    def check(doc: _Doc, keys: KeyPath, value: Value) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(one(doc, (*keys, str(i)), item) for i, item in enumerate(items))

    return check


def _gates(doc: _Doc, keys: KeyPath, value: Value) -> tuple[Gate, ...]:
    """`{accuracy: ">= 0.9", rmse: "<= 60"}`: parsed now so a typo fails before training."""
    if not isinstance(value, dict):
        raise doc.error(
            keys, f"expected a mapping like {{accuracy: '>= 0.9'}}, got {_type_name(value)}"
        )
    gates = []
    for metric, rule in value.items():
        try:
            gates.append(parse_gate(str(metric), str(rule)))
        except ValueError as exc:
            raise doc.error((*keys, str(metric)), str(exc)) from None
    return tuple(gates)


def _matrix(doc: _Doc, keys: KeyPath, value: Value) -> tuple[Pairs, ...]:
    """`{seed: [0, 1], depth: [4, 8], exclude: [...], include: [...]}` → the combinations.

    GitHub's `strategy.matrix`, exactly: every combination of the axes, minus those an
    `exclude` entry matches (partially is enough); then each `include` entry is added to
    every one of those combinations it changes no axis value of (its other keys added, or
    overriding what an earlier include added), or, if there is none, is a combination of
    its own. A combination added that way is not extended by later includes.
    """
    if not isinstance(value, dict) or not value:
        raise doc.error(keys, f"expected a mapping of name: [values], got {_type_name(value)}")
    axes: dict[str, tuple[str, ...]] = {}
    for name, values in value.items():
        if name not in {"include", "exclude"}:
            axes[str(name)] = _axis(doc, (*keys, str(name)), values)
    _refuse_too_many(doc, keys, axes)
    originals = [
        dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
    ]
    if not axes:  # no axes, no combinations: only what `include` adds, as on GitHub
        originals = []
    for rule in _entries(doc, (*keys, "exclude"), value.get("exclude"), axes, require_axes=True):
        originals = [c for c in originals if any(c[k] != v for k, v in rule.items())]
    added: list[dict[str, str]] = []
    for extra in _entries(doc, (*keys, "include"), value.get("include"), axes, require_axes=False):
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


def _axis(doc: _Doc, keys: KeyPath, values: Value) -> tuple[str, ...]:
    """An axis's values as text; a value listed twice would make two jobs with one id."""
    if not isinstance(values, list) or not values:
        raise doc.error(keys, "expected a non-empty list of values")
    check = _matrix_value_check(keys[-1])
    texts = tuple(str(check(doc, (*keys, str(i)), v)) for i, v in enumerate(values))
    first: dict[str, int] = {}
    for index, text in enumerate(texts):
        if first.setdefault(text, index) != index:
            raise doc.error(
                (*keys, str(index)), f"{text!r} is already listed (item {first[text]})", "drop one"
            )
    return texts


def _matrix_value_check(name: str) -> Validator:
    """Epochs, folds and seed set the job's own fields: checked like them, axis or include."""
    return COMMON_FIELDS[name].check if name in {"epochs", "folds", "seed"} else _scalar_text


def _refuse_too_many(doc: _Doc, keys: KeyPath, axes: Mapping[str, tuple[str, ...]]) -> None:
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


def _refuse_repeats(doc: _Doc, keys: KeyPath, combos: list[Pairs], originals: int) -> None:
    """Two equal combinations would be two jobs with one id (two identical includes)."""
    seen: set[Pairs] = set()
    for index, combo in enumerate(combos):
        if combo in seen:
            where = (*keys, "include", str(index - originals)) if index >= originals else keys
            label = ",".join(f"{k}={v}" for k, v in combo)
            raise doc.error(where, f"the combination [{label}] is listed twice", "drop one")
        seen.add(combo)


def _entries(
    doc: _Doc, keys: KeyPath, raw: Value, axes: Mapping[str, tuple[str, ...]], *, require_axes: bool
) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) and e for e in raw):
        raise doc.error(keys, "expected a list of {name: value} mappings")
    entries = []
    for i, entry in enumerate(raw):
        for name in entry:
            if require_axes and name not in axes:
                raise doc.error(
                    (*keys, str(i)), f"'{name}' is not a matrix axis", did_you_mean(str(name), axes)
                )
        entries.append(
            {
                str(k): str(_matrix_value_check(str(k))(doc, (*keys, str(i), str(k)), v))
                for k, v in entry.items()
            }
        )
    return entries


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


def _sweep(doc: _Doc, keys: KeyPath, value: Value) -> Sweep:
    """An Optuna sweep, checked whole now so a bad spec fails before any trial runs."""
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping with metric and params, got {_type_name(value)}")
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
    sampler = _choice(*SAMPLERS)(doc, (*keys, "sampler"), value.get("sampler", "tpe"))
    if sampler == "grid" and any(p.kind == "float" for p in params):
        raise doc.error((*keys, "sampler"), "grid needs int or choices params, not float ranges")
    if sampler == "grid":
        _refuse_huge_grid(doc, (*keys, "params"), params)
    sweep = Sweep(
        metric=_text(doc, (*keys, "metric"), value["metric"]),
        direction=_choice("maximize", "minimize")(
            doc, (*keys, "direction"), value.get("direction", "maximize")
        ),
        n_trials=_int(1)(doc, (*keys, "n_trials"), value.get("n_trials", 10)),
        timeout=(
            _positive_seconds(doc, (*keys, "timeout"), value["timeout"])
            if "timeout" in value
            else None
        ),
        params=params,
        sampler=sampler,
        pruner=_choice(*PRUNERS)(doc, (*keys, "pruner"), value.get("pruner", "median")),
        parallel=_int(1)(doc, (*keys, "parallel"), value.get("parallel", 1)),
    )
    digest = hashlib.sha256(repr(dataclasses.replace(sweep, timeout=None)).encode()).hexdigest()
    return dataclasses.replace(sweep, digest=digest[:10])


#: Points a grid sweep may have: Optuna's grid sampler lists every point before the first
#: trial, so `int: [0, 1000000000]` would take gigabytes and minutes, whatever `n_trials`.
MAX_GRID_POINTS = 100_000


def _refuse_huge_grid(doc: _Doc, keys: KeyPath, params: Iterable[SweepParam]) -> None:
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


def _sweep_param(doc: _Doc, keys: KeyPath, name: str, spec: Value) -> SweepParam:
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
                _scalar_text(doc, (*keys, "choices", str(i)), c) for i, c in enumerate(choices)
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
        _finite(doc, (*keys, kind, str(index)), bound, "a number")
    low, high = bounds
    if low >= high:
        raise doc.error((*keys, kind), f"low must be below high, got [{low}, {high}]")
    log = _bool(doc, (*keys, "log"), spec.get("log", False))
    if log and low <= 0:
        raise doc.error((*keys, kind), f"a log range needs low > 0, got {low}")
    return SweepParam(name, kind, float(low), float(high), log)


def _resources(doc: _Doc, keys: KeyPath, value: Value) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping of name: amount, got {_type_name(value)}")
    return tuple((str(k), _seconds(doc, (*keys, str(k)), v)) for k, v in value.items())


def _directions(doc: _Doc, keys: KeyPath, value: Value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping like {{rmse: lower}}, got {_type_name(value)}")
    check = _choice("higher", "lower")
    return {str(k): check(doc, (*keys, str(k)), v) for k, v in value.items()}


def _tolerances(doc: _Doc, keys: KeyPath, value: Value) -> dict[str, float]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping like {{rmse: 0.05}}, got {_type_name(value)}")
    return {str(k): _seconds(doc, (*keys, str(k)), v) for k, v in value.items()}


def _bool(doc: _Doc, keys: KeyPath, value: Value) -> bool:
    if not isinstance(value, bool):
        raise doc.error(keys, f"expected true or false, got {_type_name(value)} {value!r}")
    return value


def _text(doc: _Doc, keys: KeyPath, value: Value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(keys, f"expected a non-empty string, got {_type_name(value)} {value!r}")
    return value


def _scalar_text(doc: _Doc, keys: KeyPath, value: Value) -> str:
    """Scalars as a child process sees them: YAML's `true` becomes "true", not "True".

    A NUL cannot be passed in an argument or an environment value (`"a\\0b"` in YAML), and
    would otherwise fail every attempt at start-up.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and "\0" in value:
        raise doc.error(keys, f"must not contain a NUL character, got {value!r}")
    if isinstance(value, (str, int, float)):
        return str(value)
    raise doc.error(keys, f"expected a string or number, got {_type_name(value)}")


def _text_list(doc: _Doc, keys: KeyPath, value: Value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if not isinstance(value, list):
        raise doc.error(keys, f"expected a list of strings, got {_type_name(value)}")
    return tuple(_scalar_text(doc, (*keys, str(i)), item) for i, item in enumerate(value))


def _text_set(doc: _Doc, keys: KeyPath, value: Value) -> tuple[str, ...]:
    """A list where a repeat means nothing more: `needs: [a, a]` once ran `a`'s dependent
    twice, and counted it twice in the summary."""
    return tuple(dict.fromkeys(_text_list(doc, keys, value)))


def _command(doc: _Doc, keys: KeyPath, value: Value) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            argv = tuple(shlex.split(value))
        except ValueError as exc:
            raise doc.error(keys, f"cannot split command: {exc}") from None
    else:
        argv = _text_list(doc, keys, value)
    if not argv:
        raise doc.error(keys, "command is empty")
    if not argv[0].strip():
        # Would start nothing: every attempt fails with exit 127, after the jobs before it ran.
        where = keys if isinstance(value, str) else (*keys, "0")
        raise doc.error(where, f"the program name is empty, got {argv[0]!r}")
    return argv


def _args(doc: _Doc, keys: KeyPath, value: Value) -> Value:
    """A list is passed verbatim; a mapping becomes flags (`{lr: 0.1}` → `--lr 0.1`)."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise doc.error(keys, f"cannot split args: {exc}") from None
    if isinstance(value, list):
        return _text_list(doc, keys, value)
    if isinstance(value, dict):
        params: dict[str, Value] = {}
        for name, item in value.items():
            if isinstance(item, list):
                params[str(name)] = _text_list(doc, (*keys, str(name)), item)
            elif isinstance(item, bool):
                params[str(name)] = item
            else:
                params[str(name)] = _scalar_text(doc, (*keys, str(name)), item)
        return params
    raise doc.error(keys, f"expected a list or a mapping of flags, got {_type_name(value)}")


def _env(doc: _Doc, keys: KeyPath, value: Value) -> dict[str, str]:
    """`{NAME: value}`; a name the OS cannot set (empty, with `=` or NUL) fails here, not at
    start-up of every attempt."""
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping of NAME: value, got {_type_name(value)}")
    for name in map(str, value):
        problem = _env_name_problem(name)
        if problem:
            raise doc.error((*keys, name), f"environment variable name {problem}")
    return {str(k): _scalar_text(doc, (*keys, str(k)), v) for k, v in value.items()}


def _env_name_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    return next((f"contains {c!r}" for c in ("=", "\0") if c in name), None)


def _flag_names(doc: _Doc, keys: KeyPath, value: Value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise doc.error(
            keys, f"expected a mapping like {{epochs: --num_train_epochs}}, got {_type_name(value)}"
        )
    names: dict[str, str] = {}
    for std, flag in value.items():
        std_keys = (*keys, str(std))
        if std not in STANDARD_FLAGS:
            raise doc.error(std_keys, "not a standard flag", did_you_mean(str(std), STANDARD_FLAGS))
        if not isinstance(flag, str) or not flag.startswith("-"):
            raise doc.error(std_keys, f"expected a flag such as '--{std}', got {flag!r}")
        names[std] = flag
    return names


@dataclass(frozen=True, slots=True)
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


def _enum_list(*choices: str) -> dict[str, Any]:
    return {"anyOf": [{"enum": list(choices)}, {"type": "array", "items": {"enum": list(choices)}}]}


COMMON_FIELDS: dict[str, Key] = {
    "epochs": Key(
        _int(1),
        {"type": "integer", "minimum": 1},
        "passed as --epochs if the script declares it; --epochs wins",
    ),
    "folds": Key(
        _int(2),
        {"type": "integer", "minimum": 2},
        "passed as --folds if the script declares it; --folds wins",
    ),
    "seed": Key(_int(0), {"type": "integer", "minimum": 0}, "passed as --seed if declared"),
    "retries": Key(
        _int(0),
        {"type": "integer", "minimum": 0},
        "extra attempts after a failure (--retries wins)",
        "0",
    ),
    "retry_delay": Key(_seconds, _SECONDS, "seconds before attempt 2", "2"),
    "backoff": Key(
        _factor,
        {"type": "number", "minimum": 1},
        "each further wait is this many times longer (±20% jitter)",
        "1",
    ),
    "retry_max_delay": Key(_seconds, _SECONDS, "cap on the wait between attempts", "60"),
    "retry_on": Key(
        _choices("failed", "timed_out"),
        _enum_list("failed", "timed_out"),
        "which outcomes are retried",
        "[failed, timed_out]",
    ),
    "timeout": Key(
        _positive_seconds,
        {"type": "number", "exclusiveMinimum": 0},
        "seconds per attempt, then SIGTERM, grace, SIGKILL",
        "--timeout, none",
    ),
    "grace": Key(_seconds, _SECONDS, "seconds between SIGTERM and SIGKILL", "--grace, 10"),
    "cpus": Key(
        _int(1),
        {"type": "integer", "minimum": 1},
        "CPU tokens held while running; also its BLAS/OpenMP thread count",
        "1",
    ),
    "gpus": Key(
        _seconds, {"type": "number", "minimum": 0}, "GPUs requested from Ray (--backend ray)", "0"
    ),
    "resources": Key(
        _resources,
        {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        "custom Ray resources requested, {name: amount}",
    ),
    "priority": Key(
        _choice(*PRIORITIES),
        {"enum": list(PRIORITIES)},
        "ready jobs start by priority, then longest first",
        "normal",
    ),
    "optional": Key(
        _bool, {"type": "boolean"}, "a failure is reported but does not fail the run", "false"
    ),
    "env": Key(
        _env,
        {
            "type": "object",
            "propertyNames": {"pattern": "^[^=\\x00]+$"},
            "additionalProperties": _SCALAR,
        },
        "environment variables added for the job",
    ),
    "tags": Key(_text_set, _TEXT_LIST, "names for --only/--exclude tag:NAME"),
    "redact": Key(
        _text_set,
        _TEXT_LIST,
        "env var names whose values are masked as *** in everything written "
        "(names with TOKEN, SECRET, PASSWORD, KEY are masked anyway)",
    ),
    "args": Key(
        _args,
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
        _text,
        _TEXT,
        "a Python script, run with the orchestrator's interpreter",
        "the discovered train_<id>.py",
    ),
    "command": Key(
        _command,
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
        _bool, {"type": "boolean"}, "false: runs only when named exactly in --only", "true"
    ),
    "description": Key(_text, _TEXT, "shown in --list --format json"),
    "flag_names": Key(
        _flag_names,
        {
            "type": "object",
            "propertyNames": {"enum": list(STANDARD_FLAGS)},
            "additionalProperties": {"type": "string", "pattern": "^-"},
        },
        "the script's own name for a standard flag ({epochs: --num_train_epochs})",
    ),
    "headline": Key(_text, _TEXT, "the metric shown first in tables", "accuracy, f1, ... r2, rmse"),
    "gates": Key(
        _gates,
        {"type": "object", "additionalProperties": {"type": "string", "pattern": GATE_PATTERN}},
        "checks on metrics.json ({accuracy: '>= 0.9'}); a miss is gate_failed",
    ),
    "needs": Key(_text_set, _TEXT_LIST, "jobs that must succeed first"),
    "inputs": Key(
        _text_set,
        _TEXT_LIST,
        "file globs whose content is part of the job's fingerprint (skip-unchanged)",
    ),
    "cache": Key(_bool, {"type": "boolean"}, "false: never skipped as unchanged", "true"),
    "metric_directions": Key(
        _directions,
        {"type": "object", "additionalProperties": {"enum": ["higher", "lower"]}},
        "for compare: which way each metric is better ({rmse: lower})",
        "by name",
    ),
    "regress_tolerance": Key(
        _tolerances,
        {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        "for compare: relative change per metric that counts as a regression",
        "--tolerance",
    ),
    "sweep": Key(
        _sweep,
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
    "matrix": Key(
        _matrix,
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
TOP_LEVEL = ("defaults", "jobs", "profile")
EXTENSION_PREFIX = "x-"


# ---------------------------------------------------------------------------- loading
def load_configs(
    paths: Iterable[Path],
    base: Path,
    *,
    explicit: Iterable[Path] = (),
    max_jobs: int = DEFAULT_MAX_JOBS,
) -> Config:
    """Read every config file in order; each later file overrides the earlier ones.

    A profile (a file with a top-level `profile:` key) found among `paths` is passed over:
    it applies only when asked for (`--profile`, `--config`), which are the `explicit` ones.
    A matrix of more than `max_jobs` combinations is refused before it is expanded.
    """
    defaults: dict[str, Value] = {}
    jobs: dict[str, JobConfig] = {}
    files: list[str] = []
    asked = {p.resolve() for p in explicit}
    for path in paths:
        display = _display(path, base)
        doc = _read(path, display)
        doc.max_jobs = max_jobs
        if _is_profile(doc) and path.resolve() not in asked:
            continue
        file_defaults, file_jobs = _validate(doc, base)
        defaults.update(file_defaults)
        for job_id, job in file_jobs.items():
            previous = jobs.get(job_id)
            if previous:
                merged = {**previous.fields, **job.fields}
                where = {**previous.where, **job.where}
                jobs[job_id] = JobConfig(merged, job.path, job.line, where)
            else:
                jobs[job_id] = job
        files.append(display)
    return Config(defaults, jobs, tuple(files))


def _is_profile(doc: _Doc) -> bool:
    return isinstance(doc.data, dict) and "profile" in doc.data


def config_files(
    config_dir: Path, extra: Iterable[str], base: Path
) -> tuple[list[Path], list[Path]]:
    """All files in load order (`configs/*.yaml` by name, then each `--config FILE`),
    and the ones asked for explicitly."""
    found = (
        sorted([*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")])
        if config_dir.is_dir()
        else []
    )
    explicit = []
    for name in extra:
        path = Path(name) if Path(name).is_absolute() else base / name
        if not path.is_file():
            raise ConfigError(name, "config file not found")
        explicit.append(path)
    return [*found, *explicit], explicit


def _display(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read(path: Path, display: str) -> _Doc:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            display, f"not UTF-8 text ({exc.reason} at byte {exc.start})", line=line
        ) from None
    except OSError as exc:
        raise ConfigError(display, f"cannot read: {exc.strerror}") from None
    return _parse(display, text)


def _validate(doc: _Doc, base: Path) -> tuple[dict[str, Value], dict[str, JobConfig]]:
    data = doc.data
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise doc.error(
            (), f"expected a mapping with 'defaults:' and 'jobs:', got {_type_name(data)}"
        )
    for key in data:
        if not _known_top_level(str(key)):
            raise doc.error((str(key),), "unknown top-level key", did_you_mean(str(key), TOP_LEVEL))
    if "profile" in data:
        _text(doc, ("profile",), data["profile"])
    defaults = _fields(doc, ("defaults",), data.get("defaults"), COMMON_FIELDS)
    raw_jobs = data.get("jobs") or {}
    if not isinstance(raw_jobs, dict):
        raise doc.error(
            ("jobs",), f"expected a mapping of job id → definition, got {_type_name(raw_jobs)}"
        )
    jobs: dict[str, JobConfig] = {}
    for job_id, raw in raw_jobs.items():
        keys = ("jobs", str(job_id))
        if not str(job_id).strip() or any(ord(c) < 32 for c in str(job_id)):
            raise doc.error(keys, "a job id must be printable text (no NUL or control chars)")
        fields = _fields(doc, keys, raw if raw is not None else {}, JOB_FIELDS)
        if "script" in fields and "command" in fields:
            raise doc.error(keys, "set either 'script' or 'command', not both")
        if "script" in fields and not (base / fields["script"]).is_file():
            raise doc.error((*keys, "script"), f"script not found: {fields['script']}")
        pos = doc.positions.get(keys)
        where = {name: (doc.path, doc.positions[(*keys, name)].line) for name in fields}
        jobs[str(job_id)] = JobConfig(fields, doc.path, pos.line if pos else None, where)
    return defaults, jobs


def _fields(doc: _Doc, keys: KeyPath, raw: Value, schema: Mapping[str, Key]) -> dict[str, Value]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise doc.error(keys, f"expected a mapping, got {_type_name(raw)}")
    fields: dict[str, Value] = {}
    for name, value in raw.items():
        field_keys = (*keys, str(name))
        key = schema.get(str(name))
        if key is None:
            raise doc.error(field_keys, "unknown key", did_you_mean(str(name), schema))
        fields[str(name)] = key.check(doc, field_keys, value)
    return fields


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
