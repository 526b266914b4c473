"""Run a GitHub Actions workflow on this machine the way GitHub would, so tests can prove it.

A workflow is product code that only GitHub runs: a step summary GitHub refuses, an artifact
name that clashes, a cache that never restores, a job skipped because a `needs` failed, all
reach users and none shows up in a unit test. `LocalRunner` executes a workflow's jobs here
with GitHub's documented semantics (cross-checked against the runner's and the actions'
source), so a test asserts on what GitHub would show.

Usage::

    runner = LocalRunner(REPO, workdir=tmp_path / "gha")
    result = runner.run(".github/workflows/ci.yml", inputs={"shards": 2})
    assert result.conclusion == "success"
    assert result.jobs["plan"].outputs["matrix"].startswith("{")
    assert [job.name for job in result.legs("train")] == ["train 0", "train 1"]
    assert "| job |" in result.summary
    assert (result.artifacts["training-summary"] / "latest.json").is_file()

API
---
``LocalRunner(source, *, workdir, actions={}, default_branch="main",
repository="acme/training-orchestrator", vars={}, env=None, timing=Timing())``
    ``source`` is what ``actions/checkout`` copies (a git repository: its tracked and
    untracked-but-not-ignored files; ``.git`` itself is not copied). ``actions`` maps
    ``owner/repo`` to a local directory, for ``uses: owner/repo[/path]@ref`` (any ref) of
    composite actions and reusable workflows. ``env`` replaces the test process's environment
    as the base of every step's environment (``GITHUB_*``, ``RUNNER_*``, ``TRAIN_ORCH_*`` and
    ``MLFLOW_*`` variables are removed from it either way).

``runner.run(workflow, *, event="workflow_dispatch", inputs=None, ref=None, sha=None,
secrets=None, vars=None, run_id=None, run_attempt=1, cancel=None, before_job=None,
pull_request=None, payload=None) -> RunResult``
    ``workflow`` is a path, relative to ``source`` or absolute. ``ref`` defaults to the default
    branch (``refs/heads/<name>``; a bare branch name is accepted). ``inputs`` are typed as
    GitHub types them (``workflow_dispatch``: boolean, number, string, choice, environment);
    a missing required or an unknown input raises ``WorkflowError``, as GitHub refuses to
    start the run. ``pull_request=PullRequest(number, head, base)`` shapes a pull_request
    event; ``payload`` is merged over the generated event payload. ``cancel=Cancel(job, step,
    when)`` cancels the run while that step runs (``when``: seconds after the step started, or
    a callable polled until it returns true). ``before_job(JobInfo)`` is called before each
    job (each matrix leg) starts; use it to edit ``runner.cache`` between jobs, as another
    workflow would. ``run_id``/``run_attempt``: a re-run (same ``run_id``, higher attempt)
    keeps that run's artifacts; the cache store always persists across ``run`` calls.

``RunResult``: ``conclusion`` (success/failure/cancelled), ``jobs`` (display name ->
``JobResult``, in completion order), ``summary`` (every job's step summaries in completion
order, as the run page lists them), ``artifacts`` (name -> directory holding the files as
``download-artifact`` would extract them), ``annotations``, ``mocked_actions``,
``legs(job_id)`` (the ``JobResult`` of each matrix leg, or of each job a reusable workflow
ran), ``needs(job_id)`` (``Needs``: ``result`` and ``outputs`` exactly as ``needs.<job_id>``
shows them to later jobs) and ``errors()`` (the error annotations' messages).

``JobResult``: ``job_id``, ``name``, ``conclusion`` (as the UI shows it), ``result`` (as
``needs`` sees it: ``success`` for a failed job with ``continue-on-error``), ``outputs``,
``steps``, ``step(name_or_id)``, ``log``, ``summary``, ``matrix``, ``workspace`` (left on disk
for inspection), ``python_versions`` (what ``setup-python`` was asked for).
``StepResult``: ``name``, ``id``, ``uses``, ``outcome``, ``conclusion``, ``outputs``, ``log``,
``summary`` (what GitHub shows; empty when it refused the file).

``runner.cache`` (``CacheStore``): ``entries()``, ``put(key, files, path=..., ref=...)`` (insert
or replace an entry, as another run saving it), ``delete(key)``. ``runner.artifacts(run_id)``:
a run's artifacts across its attempts. ``Timing`` scales GitHub's
cancellation ladder (SIGINT, 7.5 s, SIGTERM, 2.5 s, SIGKILL of the process group), the 5 s it
waits for a finished step's output to close, and what ``timeout-minutes`` means.
``evaluate(expression, contexts)`` and ``render(value, contexts)`` expose the expression
language alone.

Each job (each matrix leg) gets a fresh machine under ``workdir/runs/<run>-<attempt>/``: its
own workspace, ``HOME``, ``RUNNER_TEMP`` and tool cache, where ``setup-python`` makes a fresh
venv of the test's interpreter (what one job pip-installs never leaks into the next, as on
GitHub); steps see the test's environment minus the scrubbed prefixes, plus ``CI=true``, the
``GITHUB_*``/``RUNNER_*`` variables (which a workflow ``env:`` cannot override) and the
workflow, job and step ``env:``.

Modelled
--------
Expressions (tokenizer and recursive-descent parser after GitHub's own grammar: literals,
contexts, ``.``/``[]``/``.*``, loose equality with GitHub's coercions, case-insensitive string
comparison, ``&&``/``||`` returning operands, every function but ``case``); ``if:`` gets
``success() && (...)`` unless it calls a status function, and a running step is only
cancelled when its ``if:`` no longer holds once the job is cancelled (jobs that start after a
cancel, an ``always()`` job, run normally); ``timeout-minutes`` of steps (a failure) and jobs
(the job is cancelled, then concludes failure); step and job status
functions (a job's ``success()`` looks at every ancestor, so one skipped or failed job skips
everything downstream that has no status function); matrices (vectors, include, exclude,
``fromJSON``, default leg names ``job (a, b)``, fail-fast, aggregate ``needs`` result, outputs
from the last leg setting them; a matrix with no vector fails the job, as GitHub's "Matrix must
define at least one vector"); reusable workflows (typed inputs, secrets and ``inherit``,
outputs, ``caller / callee`` names); shells exactly as the runner builds them; environment
files (``GITHUB_OUTPUT``/``GITHUB_ENV`` heredocs, ``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``
refused over 1 MiB with the runner's error); workflow commands (``error``/``warning``/``notice``
annotations, ``group``, ``add-mask``, ``stop-commands``; not the deprecated ``set-output``);
secret masking of logs, summaries
and annotations; job outputs holding a secret are dropped; composite actions run for real;
checkout, setup-python, upload/download-artifact and cache by their documented contracts
(including download-artifact v5+ extracting a pattern that matches a single artifact
straight into ``path``, and ``cache-hit`` left unset on a miss).

Not modelled
------------
Parallelism (jobs and matrix legs run one at a time, in ``needs`` order, so ``max-parallel``
and ``concurrency`` change nothing; after a cancel, legs not started yet are reported cancelled
where GitHub would have had them running); ``on:`` filters (branches, paths, types: the test
decides that the event fires); containers and services (``WorkflowError``); JavaScript and
Docker actions other than the emulated ones (recorded in ``mocked_actions`` with their
evaluated inputs, outputs empty); ``runs-on``, permissions, environments, OIDC; re-running only
the failed jobs (an attempt runs every job).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import itertools
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# ---------------------------------------------------------------------------------------------
# Errors


class WorkflowError(Exception):
    """The workflow (or the call that starts it) is invalid: GitHub would not start the run."""


class ExpressionError(WorkflowError):
    """An expression does not parse or cannot be evaluated."""


class _StepFailed(Exception):
    """An emulated action failed; the message becomes the step's error annotation."""


# ---------------------------------------------------------------------------------------------
# YAML as GitHub reads it


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 core schema: GitHub's parser keeps `on`, `yes`, `no`, `1:30` and `2024-01-01`
    as strings, where PyYAML's YAML 1.1 would make booleans, sexagesimals and dates."""


_YAML11_ONLY = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    # YAML 1.1 reads a leading zero as octal; 1.2 reads `017` as seventeen.
    return int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(path: Path) -> Any:
    """Read a workflow or action file with the YAML 1.2 core schema GitHub uses."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)


# ---------------------------------------------------------------------------------------------
# Expression values and coercions (actions/languageservices expressions/src/result.ts)

#: Expression data: None, bool, int/float, str, dict, list. JSON-shaped, hence Any.
Value = Any


class _Filtered(list[Value]):
    """The array an object filter (`.*`) yields; indexing it filters each element again."""


def _kind(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_JS_PREFIXED = re.compile(r"0([xXoObB])([0-9a-fA-F]+)")


def _parse_number(text: str) -> float:
    """JavaScript's Number(text), which is how GitHub turns a string into a number."""
    text = text.strip()
    if not text:
        return 0.0
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if text[0] == "-" else math.inf
    if _JS_DECIMAL.fullmatch(text):
        return float(text)
    prefixed = _JS_PREFIXED.fullmatch(text)
    if prefixed:
        base = {"x": 16, "o": 8, "b": 2}[prefixed.group(1).lower()]
        with contextlib.suppress(ValueError):
            return float(int(prefixed.group(2), base))
    return math.nan


def _to_number(value: Value) -> float:
    kind = _kind(value)
    if kind == "null":
        return 0.0
    if kind in ("boolean", "number"):
        return float(value)
    return _parse_number(value) if kind == "string" else math.nan


def _number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if float(number).is_integer() and abs(number) < 1e21:
        return str(int(number))
    return f"{number:.15g}"


def to_str(value: Value) -> str:
    """The string GitHub makes of a value (in `${{ }}` templates, env, action inputs)."""
    kind = _kind(value)
    if kind == "null":
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "number":
        return _number_text(float(value))
    if kind == "string":
        return str(value)
    return "Array" if kind == "array" else "Object"


def truthy(value: Value) -> bool:
    """Falsy: false, 0, -0, NaN, '', null. Everything else, arrays and objects too, is truthy."""
    kind = _kind(value)
    if kind == "null":
        return False
    if kind == "boolean":
        return bool(value)
    if kind == "number":
        return not (value == 0 or math.isnan(value))
    return value != "" if kind == "string" else True


def _coerce(left: Value, right: Value) -> tuple[Value, Value]:
    lk, rk = _kind(left), _kind(right)
    if lk == rk:
        return left, right
    if lk == "number" and rk == "string":
        return left, _to_number(right)
    if lk == "string" and rk == "number":
        return _to_number(left), right
    if lk in ("null", "boolean"):
        return _coerce(_to_number(left), right)
    if rk in ("null", "boolean"):
        return _coerce(left, _to_number(right))
    return left, right


def _equals(left: Value, right: Value) -> bool:
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == "null":
        return True
    if kind == "number":
        return not (math.isnan(left) or math.isnan(right)) and float(left) == float(right)
    if kind == "string":
        return bool(left.upper() == right.upper())
    if kind == "boolean":
        return bool(left == right)
    return left is right  # objects and arrays compare by reference


def _greater(left: Value, right: Value) -> bool:
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right) or kind not in ("number", "string", "boolean"):
        return False
    if kind == "number":
        return not (math.isnan(left) or math.isnan(right)) and float(left) > float(right)
    if kind == "string":
        return bool(left.upper() > right.upper())
    return bool(left and not right)


def _less(left: Value, right: Value) -> bool:
    return _greater(right, left)


# ---------------------------------------------------------------------------------------------
# Lexer (expressions/src/lexer.ts)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # punctuation/operator text, or number, string, ident, true, false, null, eof
    text: str
    value: Value
    pos: int


_BOUNDARY = frozenset("()[],.!><=&|")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_TWO_CHAR = {"!=": "!=", "==": "==", "<=": "<=", ">=": ">=", "&&": "&&", "||": "||"}


def _is_boundary(char: str) -> bool:
    return char in _BOUNDARY or char.isspace()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char.isspace():
                self.pos += 1
            else:
                self._token(char)
        self.tokens.append(_Token("eof", "", None, self.pos))
        return self.tokens

    def _previous(self) -> str:
        return self.tokens[-1].kind if self.tokens else "eof"

    def _add(self, kind: str, start: int, value: Value = None) -> None:
        self.tokens.append(_Token(kind, self.source[start : self.pos], value, start))

    def _token(self, char: str) -> None:
        start = self.pos
        pair = self.source[start : start + 2]
        if pair in _TWO_CHAR:
            self.pos += 2
            self._add(_TWO_CHAR[pair], start)
        elif char in "()[],*<>!":
            self.pos += 1
            self._add(char, start)
        elif char == "." and self._previous() in ("ident", "]", ")", "*"):
            self.pos += 1
            self._add(".", start)
        elif char in ".-+" or char.isdigit():
            self._number(start)
        elif char == "'":
            self._string(start)
        else:
            self._identifier(start)

    def _error(self, start: int, lexeme: str) -> ExpressionError:
        return ExpressionError(
            f"Unexpected symbol: '{lexeme}'. Located at position {start + 1} "
            f"within expression: {self.source}"
        )

    def _number(self, start: int) -> None:
        while self.pos < len(self.source) and (
            not _is_boundary(self.source[self.pos]) or self.source[self.pos] == "."
        ):
            self.pos += 1
        lexeme = self.source[start : self.pos]
        value = _parse_number(lexeme)
        if math.isnan(value):
            raise self._error(start, lexeme)
        self._add("number", start, value)

    def _string(self, start: int) -> None:
        self.pos += 1
        while self.pos < len(self.source):
            if self.source[self.pos] == "'":
                if self.source[self.pos + 1 : self.pos + 2] != "'":
                    break
                self.pos += 1
            self.pos += 1
        if self.pos >= len(self.source):
            raise self._error(start, self.source[start:])
        self.pos += 1
        self._add("string", start, self.source[start + 1 : self.pos - 1].replace("''", "'"))

    def _identifier(self, start: int) -> None:
        while self.pos < len(self.source) and not _is_boundary(self.source[self.pos]):
            self.pos += 1
        lexeme = self.source[start : self.pos]
        if not _IDENT.fullmatch(lexeme):
            raise self._error(start, lexeme)
        keywords: dict[str, tuple[str, Value]] = {
            "true": ("true", True),
            "false": ("false", False),
            "null": ("null", None),
            "NaN": ("number", math.nan),
            "Infinity": ("number", math.inf),
        }
        if self._previous() != "." and lexeme in keywords:
            kind, value = keywords[lexeme]
            self._add(kind, start, value)
        else:
            self._add("ident", start)


# ---------------------------------------------------------------------------------------------
# Parser (expressions/src/parser.ts): || < && < ==,!= < <,<=,>,>= < ! < index < call/primary


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class _Context:
    name: str


@dataclass(frozen=True, slots=True)
class _Index:
    target: _Node
    key: _Node | None  # None: the `*` of an object filter


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Logical:
    op: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Group:
    inner: _Node


_Node = _Literal | _Context | _Index | _Call | _Not | _Compare | _Logical | _Group

CONTEXTS = frozenset(
    {"github", "env", "vars", "secrets", "inputs", "matrix", "strategy", "needs", "steps"}
    | {"job", "jobs", "runner"}
)
#: name (lower case) -> (minimum, maximum) argument count
_FUNCTIONS = {
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "format": (1, 255),
    "join": (1, 2),
    "tojson": (1, 1),
    "fromjson": (1, 1),
    "hashfiles": (1, 255),
    "success": (0, 0),
    "failure": (0, 0),
    "cancelled": (0, 0),
    "always": (0, 0),
}
STATUS_FUNCTIONS = frozenset({"success", "failure", "cancelled", "always"})


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _Lexer(source).run()
        self.pos = 0

    def parse(self) -> _Node:
        if self._peek().kind == "eof":
            raise ExpressionError("An expression was expected")
        node = self._or()
        if self._peek().kind != "eof":
            raise self._unexpected()
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.pos]

    def _match(self, *kinds: str) -> _Token | None:
        token = self.tokens[self.pos]
        if token.kind in kinds:
            self.pos += 1
            return token
        return None

    def _expect(self, kind: str) -> _Token:
        token = self._match(kind)
        if token is None:
            raise self._unexpected()
        return token

    def _unexpected(self) -> ExpressionError:
        token = self._peek()
        if token.kind == "eof":
            return ExpressionError(f"Unexpected end of expression: {self.source}")
        return ExpressionError(
            f"Unexpected symbol: '{token.text}'. Located at position {token.pos + 1} "
            f"within expression: {self.source}"
        )

    def _logical(self, op: str, operand: Callable[[], _Node]) -> _Node:
        first = operand()
        args = [first]
        while self._match(op):
            args.append(operand())
        return first if len(args) == 1 else _Logical(op, tuple(args))

    def _or(self) -> _Node:
        return self._logical("||", self._and)

    def _and(self) -> _Node:
        return self._logical("&&", self._equality)

    def _binary(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        node = operand()
        while (token := self._match(*ops)) is not None:
            node = _Compare(token.kind, node, operand())
        return node

    def _equality(self) -> _Node:
        return self._binary(("==", "!="), self._comparison)

    def _comparison(self) -> _Node:
        return self._binary(("<", "<=", ">", ">="), self._unary)

    def _unary(self) -> _Node:
        if self._match("!"):
            return _Not(self._unary())
        return self._index()

    def _index(self) -> _Node:
        node = self._call()
        if not isinstance(node, _Group | _Call | _Context):
            return node
        while True:
            if self._match("["):
                key = None if self._match("*") else self._or()
                self._expect("]")
                node = _Index(node, key)
            elif self._match("."):
                if (prop := self._match("ident")) is not None:
                    node = _Index(node, _Literal(prop.text))
                elif self._match("*"):
                    node = _Index(node, None)
                else:
                    raise self._unexpected()
            else:
                return node

    def _call(self) -> _Node:
        ident = self._match("ident")
        if ident is None:
            return self._primary()
        name = ident.text.lower()
        if not self._match("("):
            if name not in CONTEXTS:
                raise ExpressionError(f"Unrecognized named-value: '{ident.text}'")
            return _Context(name)
        args: list[_Node] = []
        while not self._match(")"):
            args.append(self._or())
            if self._peek().kind != ")":
                self._expect(",")
        if name not in _FUNCTIONS:
            raise ExpressionError(f"Unrecognized function: '{ident.text}'")
        low, high = _FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ExpressionError(f"Wrong number of arguments to '{ident.text}'")
        return _Call(name, tuple(args))

    def _primary(self) -> _Node:
        token = self._match("true", "false", "null", "number", "string")
        if token is not None:
            return _Literal(token.value)
        if self._match("("):
            inner = self._or()
            self._expect(")")
            return _Group(inner)
        raise self._unexpected()


@functools.lru_cache(maxsize=4096)
def parse_expression(source: str) -> _Node:
    """Parse one expression (the text inside `${{ }}`)."""
    return _Parser(source).parse()


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression may see: contexts by name, plus the functions GitHub only allows in
    some places (status functions in `if:`, hashFiles in steps)."""

    contexts: Mapping[str, Value]
    functions: Mapping[str, Callable[..., Value]] = field(default_factory=dict)


def _lookup(mapping: Mapping[str, Value], key: str) -> Value:
    if key in mapping:
        return mapping[key]
    folded = key.casefold()  # GitHub's dictionaries compare keys case-insensitively
    return next((v for k, v in mapping.items() if k.casefold() == folded), None)


def _array_index(key: Value) -> int | None:
    number = _to_number(key)
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return math.floor(number)


def _index_one(target: Value, key: Value, star: bool, out: _Filtered | None) -> Value:
    """Index one value; inside a filtered array, hits are appended to `out` instead."""
    if isinstance(target, dict):
        if star:
            found: list[Value] = list(target.values())
        else:
            hit = _lookup(target, to_str(key)) if _kind(key) not in ("array", "object") else None
            found = [] if hit is None and out is not None else [hit]
    elif isinstance(target, list):
        index = None if star else _array_index(key)
        if star:
            found = list(target)
        elif index is not None and index < len(target):
            found = [target[index]]
        else:
            found = [] if out is not None else [None]
    else:
        found = [] if (out is not None or star) else [None]
    if out is not None:
        out.extend(found)
        return out
    if star:
        return _Filtered(found)
    return found[0] if found else None


def _evaluate_index(node: _Index, scope: Scope) -> Value:
    key = None if node.key is None else _eval(node.key, scope)
    target = _eval(node.target, scope)
    star = node.key is None
    if isinstance(target, _Filtered):
        out = _Filtered()
        for item in target:
            if isinstance(item, dict | list):
                _index_one(item, key, star, out)
        return out
    return _index_one(target, key, star, None)


def _eval(node: _Node, scope: Scope) -> Value:
    return _EVALUATORS[type(node)](node, scope)


def _eval_context(node: _Context, scope: Scope) -> Value:
    if node.name not in scope.contexts:
        raise ExpressionError(f"Unrecognized named-value: '{node.name}' is not available here")
    return scope.contexts[node.name]


def _compare(op: str, left: Value, right: Value) -> bool:
    if op == "==":
        return _equals(left, right)
    if op == "!=":
        return not _equals(left, right)
    if op == "<":
        return _less(left, right)
    if op == ">":
        return _greater(left, right)
    if op == "<=":
        return _equals(left, right) or _less(left, right)
    return _equals(left, right) or _greater(left, right)


def _logical(op: str, args: tuple[_Node, ...], scope: Scope) -> Value:
    result: Value = None
    for arg in args:
        result = _eval(arg, scope)
        if truthy(result) == (op == "||"):
            break
    return result


def _call(name: str, args: list[Value], scope: Scope) -> Value:
    if name in scope.functions:
        return scope.functions[name](*args)
    if name in STATUS_FUNCTIONS or name == "hashfiles":
        raise ExpressionError(f"Function '{name}' is not available here")
    return _BUILTINS[name](*args)


def _primitive(value: Value) -> bool:
    return _kind(value) not in ("array", "object")


def _fn_contains(search: Value, item: Value) -> bool:
    if _primitive(search):
        return _primitive(item) and to_str(item).lower() in to_str(search).lower()
    if isinstance(search, list):
        return any(_equals(item, element) for element in search)
    return False


def _fn_starts_with(text: Value, prefix: Value) -> bool:
    if not (_primitive(text) and _primitive(prefix)):
        return False
    return to_str(text).lower().startswith(to_str(prefix).lower())


def _fn_ends_with(text: Value, suffix: Value) -> bool:
    if not (_primitive(text) and _primitive(suffix)):
        return False
    return to_str(text).lower().endswith(to_str(suffix).lower())


def _fn_join(items: Value, separator: Value = ",") -> str:
    if _primitive(items):
        return to_str(items)
    if isinstance(items, list):
        sep = to_str(separator) if _primitive(separator) else ","
        return sep.join(to_str(item) for item in items)
    return ""


def _format_index(text: str, start: int) -> int | None:
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    return int(text[start:end]) if end > start else None


def _fn_format(template: Value, *args: Value) -> str:
    text = to_str(template)
    out: list[str] = []
    pos = 0
    while pos < len(text):
        left, right = text.find("{", pos), text.find("}", pos)
        if left >= 0 and (right < 0 or right > left):
            if text[left + 1 : left + 2] == "{":
                out.append(text[pos : left + 1])
                pos = left + 2
                continue
            # As GitHub's: digits right after the brace; anything up to the `}` is ignored.
            index = _format_index(text, left + 1) if right > left + 1 else None
            if index is None:
                raise ExpressionError(f"The following format string is invalid: {text}")
            if index >= len(args):
                raise ExpressionError(
                    f"The following format string references more arguments than were "
                    f"supplied: {text}"
                )
            out.append(text[pos:left] + to_str(args[index]))
            pos = right + 1
        elif right >= 0:
            if text[right + 1 : right + 2] != "}":
                raise ExpressionError(f"The following format string is invalid: {text}")
            out.append(text[pos : right + 1])
            pos = right + 2
        else:
            out.append(text[pos:])
            break
    return "".join(out)


def _plain(value: Value) -> Value:
    """JSON-ready copy: integral numbers print as GitHub prints them, without `.0`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fn_to_json(value: Value) -> str:
    return json.dumps(_plain(value), indent=2, ensure_ascii=False)


def _fn_from_json(text: Value) -> Value:
    try:
        return json.loads(to_str(text))
    except json.JSONDecodeError as error:
        raise ExpressionError(f"Error parsing fromJson: {error}") from error


_EVALUATORS: dict[type[Any], Callable[[Any, Scope], Value]] = {
    _Literal: lambda node, scope: node.value,
    _Context: _eval_context,
    _Group: lambda node, scope: _eval(node.inner, scope),
    _Index: _evaluate_index,
    _Not: lambda node, scope: not truthy(_eval(node.operand, scope)),
    _Compare: lambda node, scope: _compare(
        node.op, _eval(node.left, scope), _eval(node.right, scope)
    ),
    _Logical: lambda node, scope: _logical(node.op, node.args, scope),
    _Call: lambda node, scope: _call(node.name, [_eval(a, scope) for a in node.args], scope),
}

_BUILTINS: dict[str, Callable[..., Value]] = {
    "contains": _fn_contains,
    "startswith": _fn_starts_with,
    "endswith": _fn_ends_with,
    "format": _fn_format,
    "join": _fn_join,
    "tojson": _fn_to_json,
    "fromjson": _fn_from_json,
}


def evaluate(expression: str, contexts: Mapping[str, Value] | Scope | None = None) -> Value:
    """Evaluate one expression, e.g. `evaluate("a && b || c", {"env": {...}})`."""
    scope = contexts if isinstance(contexts, Scope) else Scope(contexts or {})
    return _eval(parse_expression(expression), scope)


# ---------------------------------------------------------------------------------------------
# Templates: strings holding `${{ }}`


def _expression_end(text: str, start: int) -> int:
    """Index of the `}}` closing the expression that starts at `start` (quotes respected)."""
    in_string = False
    pos = start
    while pos < len(text) - 1:
        if text[pos] == "'":
            in_string = not in_string
        elif not in_string and text.startswith("}}", pos):
            return pos
        pos += 1
    raise ExpressionError(f"The expression is not closed. An unescaped ${{{{ was found: {text}")


@functools.lru_cache(maxsize=8192)
def _template_parts(text: str) -> tuple[str | _Node, ...]:
    parts: list[str | _Node] = []
    pos = 0
    while (start := text.find("${{", pos)) >= 0:
        if start > pos:
            parts.append(text[pos:start])
        end = _expression_end(text, start + 3)
        parts.append(parse_expression(text[start + 3 : end].strip()))
        pos = end + 2
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def render(value: Value, contexts: Mapping[str, Value] | Scope | None = None) -> Value:
    """Evaluate every `${{ }}` in a YAML value. A string that is exactly one expression keeps
    the expression's type (GitHub does so for matrix, `with:` of reusable workflows, `if:`);
    any other string becomes the concatenation of the parts' string forms."""
    scope = contexts if isinstance(contexts, Scope) else Scope(contexts or {})
    if isinstance(value, str):
        parts = _template_parts(value)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return _eval(parts[0], scope)
        return "".join(p if isinstance(p, str) else to_str(_eval(p, scope)) for p in parts)
    if isinstance(value, dict):
        return {to_str(render(k, scope)): render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value


def render_str(value: Value, scope: Scope, where: str) -> str:
    """Render where GitHub requires a string (env values, action inputs, names)."""
    result = render(value, scope)
    if isinstance(result, dict | list):
        raise ExpressionError(f"{where}: a string was expected, got {_kind(result)}")
    return to_str(result)


def _has_status_function(node: _Node) -> bool:
    match node:
        case _Call(name, args):
            return name in STATUS_FUNCTIONS or any(_has_status_function(a) for a in args)
        case _Index(target, key):
            return _has_status_function(target) or (key is not None and _has_status_function(key))
        case _Not(operand) | _Group(operand):
            return _has_status_function(operand)
        case _Compare(_, left, right):
            return _has_status_function(left) or _has_status_function(right)
        case _Logical(_, args):
            return any(_has_status_function(a) for a in args)
    return False


@functools.lru_cache(maxsize=4096)
def condition(raw: str) -> _Node:
    """The expression an `if:` runs: a bare expression or `${{ }}`; without a status function
    it means `success() && (...)`. Text mixing literal parts and `${{ }}` is a non-empty string,
    so always true, as on GitHub."""
    text = raw.strip()
    if not text:
        return _Call("success", ())
    parts = _template_parts(text)
    if len(parts) == 1 and not isinstance(parts[0], str):
        node = parts[0]
    elif any(not isinstance(p, str) for p in parts):
        fmt = "".join(
            p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else f"{{{i}}}"
            for i, p in enumerate(parts)
        )
        node = _Call("format", (_Literal(fmt), *(p for p in parts if not isinstance(p, str))))
    else:
        node = parse_expression(text)
    if _has_status_function(node):
        return node
    return _Logical("&&", (_Call("success", ()), _Group(node)))


def evaluate_if(raw: Value, scope: Scope) -> bool:
    """Evaluate an `if:` value (string, bool or missing) to a decision."""
    return truthy(_eval(condition("" if raw is None else to_str(raw)), scope))


# ---------------------------------------------------------------------------------------------
# Globs (@actions/glob): `*`, `?`, `[...]`, `**`, `!` excludes, implicit descendants


_GLOB_CHARS = re.compile(r"[*?\[]")


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(segment):
        char = segment[pos]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := segment.find("]", pos + 2)) > 0:
            body = segment[pos + 1 : close]
            negate = body[:1] == "!"
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            pos = close
        else:
            out.append(re.escape(char))
        pos += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _GlobPattern:
    negate: bool
    path: str  # absolute, normalised
    directory_only: bool  # written with a trailing slash
    regex: re.Pattern[str]

    @property
    def search_path(self) -> str:
        """The literal directories before the first wildcard segment."""
        literal: list[str] = []
        for segment in self.path.split("/")[1:]:
            if _GLOB_CHARS.search(segment):
                break
            literal.append(segment)
        return "/" + "/".join(literal)

    def matches_file(self, path: str) -> bool:
        match = self.regex.fullmatch(path)
        if match is None:
            return False
        # Implicit descendants: a pattern naming a directory takes every file below it.
        descendant = match.group("rest") is not None
        return descendant or not self.directory_only


def _glob_pattern(line: str, cwd: Path, home: Path) -> _GlobPattern | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    negate = False
    while line.startswith("!"):
        negate, line = not negate, line[1:].lstrip()
    if line == "~" or line.startswith("~/"):
        line = str(home) + line[1:]
    directory_only = line.endswith("/")
    absolute = os.path.normpath(cwd / line)
    body = "".join(
        "(?:/[^/]+)*" if seg == "**" else "/" + _segment_regex(seg)
        for seg in absolute.split("/")[1:]
        if seg
    )
    regex = re.compile(body + r"(?P<rest>/.+)?")
    return _GlobPattern(negate, absolute, directory_only, regex)


def _glob_patterns(lines: Sequence[str], cwd: Path, home: Path) -> list[_GlobPattern]:
    patterns = [_glob_pattern(line, cwd, home) for line in lines]
    return [p for p in patterns if p is not None]


def _search_paths(patterns: Sequence[_GlobPattern]) -> list[str]:
    """@actions/glob getSearchPaths: include patterns' roots, minus those below another root."""
    roots = [p.search_path for p in patterns if not p.negate]
    kept: list[str] = []
    for root in roots:
        parent, ancestors = root, set()
        while parent != "/":
            parent = str(Path(parent).parent)
            ancestors.add(parent)
        if root not in kept and not ancestors & set(roots):
            kept.append(root)
    return kept


def _walk_files(root: str, include_hidden: bool) -> Iterator[str]:
    # Hidden: a name starting with "." at or below the search path, the path itself included.
    if not include_hidden and Path(root).name.startswith("."):
        return
    if Path(root).is_file():
        yield root
        return
    for directory, dirs, names in os.walk(root, followlinks=True):
        if not include_hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        dirs.sort()
        for name in sorted(names):
            if include_hidden or not name.startswith("."):
                yield f"{directory}/{name}"


def glob_files(
    lines: Sequence[str], cwd: Path, home: Path, *, include_hidden: bool = True
) -> tuple[list[str], list[str]]:
    """Files the patterns select (sorted, absolute) and the patterns' search paths."""
    patterns = _glob_patterns(lines, cwd, home)
    roots = _search_paths(patterns)
    selected: dict[str, None] = {}
    for root in roots:
        for path in _walk_files(root, include_hidden):
            included = False
            for pattern in patterns:
                if pattern.matches_file(path):
                    included = not pattern.negate
            if included:
                selected[path] = None
    return sorted(selected), roots


def hash_files(patterns: Sequence[Value], workspace: Path, home: Path) -> str:
    """hashFiles(): sha256 over each matching file's sha256, files under the workspace only
    (sorted, where the runner takes directory order); '' when nothing matches."""
    lines = [line for pattern in patterns for line in to_str(pattern).split("\n")]
    files, _ = glob_files(lines, workspace, home)
    inside = [f for f in files if f.startswith(f"{workspace}{os.sep}")]
    if not inside:
        return ""
    total = hashlib.sha256()
    for path in inside:
        total.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return total.hexdigest()


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Annotation:
    """An error, warning or notice as the run page lists it."""

    level: str  # error, warning, notice
    message: str
    job: str
    step: str | None = None
    title: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MockedAction:
    """A call to an action that only GitHub can run, with its evaluated inputs."""

    uses: str
    inputs: Mapping[str, str]
    job: str
    step: str


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    id: str | None
    uses: str | None
    outcome: str  # success, failure, cancelled, skipped (before continue-on-error)
    conclusion: str  # after continue-on-error
    outputs: Mapping[str, str]
    log: str
    summary: str  # as shown; empty when there was none or GitHub refused it


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    name: str
    conclusion: str  # success, failure, cancelled, skipped: what the UI shows
    result: str  # what needs.<id>.result shows (continue-on-error turns failure into success)
    outputs: Mapping[str, str]
    steps: tuple[StepResult, ...]
    log: str
    summary: str
    matrix: Mapping[str, Value] | None
    workspace: Path | None
    python_versions: tuple[str, ...] = ()

    def step(self, name_or_id: str) -> StepResult:
        """The step with this id or display name."""
        for step in self.steps:
            if name_or_id in (step.id, step.name):
                return step
        raise KeyError(f"{self.name}: no step {name_or_id!r} in {[s.name for s in self.steps]}")


@dataclass(frozen=True, slots=True)
class Needs:
    """`needs.<job_id>` as later jobs see it."""

    result: str
    outputs: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RunResult:
    conclusion: str
    jobs: Mapping[str, JobResult]
    summary: str
    artifacts: Mapping[str, Path]
    annotations: tuple[Annotation, ...]
    mocked_actions: tuple[MockedAction, ...]
    run_id: int
    run_attempt: int
    needs_by_job: Mapping[str, Needs]
    legs_by_job: Mapping[str, tuple[str, ...]]

    def legs(self, job_id: str) -> list[JobResult]:
        """Every job a top-level job id ran: its matrix legs, or a reusable workflow's jobs."""
        return [self.jobs[name] for name in self.legs_by_job[job_id]]

    def needs(self, job_id: str) -> Needs:
        """`needs.<job_id>` (aggregate result and outputs) of a top-level job."""
        return self.needs_by_job[job_id]

    def errors(self) -> list[str]:
        """Error annotations' messages, for readable assertion failures."""
        return [a.message for a in self.annotations if a.level == "error"]


# ---------------------------------------------------------------------------------------------
# Artifact and cache stores


@dataclass(frozen=True, slots=True)
class Artifact:
    id: int
    name: str
    path: Path  # the files, laid out as download-artifact extracts them
    attempt: int
    job: str
    digest: str


class ArtifactStore:
    """One workflow run's artifacts (v4+: immutable, names unique within a run attempt)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._latest: dict[str, Artifact] = {}
        self._ids = itertools.count(1)

    def latest(self) -> dict[str, Artifact]:
        """What listArtifacts(latest: true) returns: one artifact per name."""
        return dict(self._latest)

    def upload(
        self,
        name: str,
        files: Sequence[tuple[Path, str]],
        *,
        attempt: int,
        job: str,
        overwrite: bool,
    ) -> Artifact:
        existing = self._latest.get(name)
        # A re-run may upload a name its previous attempt used (the new one replaces it);
        # within one attempt the name is taken unless overwrite deletes the old one first.
        if existing is not None and existing.attempt == attempt and not overwrite:
            raise _StepFailed(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) "
                "Conflict: an artifact with this name already exists on the workflow run"
            )
        artifact_id = next(self._ids)
        target = self.root / f"{artifact_id}-{name}"
        digest = hashlib.sha256()
        for source, relative in sorted(files, key=lambda pair: pair[1]):
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            digest.update(relative.encode() + b"\0" + destination.read_bytes())
        target.mkdir(parents=True, exist_ok=True)
        artifact = Artifact(artifact_id, name, target, attempt, job, digest.hexdigest())
        self._latest[name] = artifact
        return artifact


@dataclass(frozen=True, slots=True)
class CacheEntry:
    key: str
    version: str  # hash of the `path:` input, as @actions/cache computes it
    scope: str  # the ref that saved it, e.g. refs/heads/main
    created: int  # creation order: larger is newer
    path: Path  # the cached files, relative to the workspace that saved them


def cache_version(path_input: str) -> str:
    """@actions/cache: sha256 of the `path:` lines, the compression method and a salt."""
    paths = [line.strip() for line in path_input.split("\n") if line.strip()]
    return hashlib.sha256("|".join([*paths, "zstd-without-long", "1.0"]).encode()).hexdigest()


class CacheStore:
    """The repository's Actions cache: immutable keys, scoped by the ref that saved them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: list[CacheEntry] = []
        self._clock = itertools.count(1)

    def entries(self) -> list[CacheEntry]:
        return list(self._entries)

    def delete(self, key: str, ref: str | None = None) -> None:
        """Remove entries with this key (in one scope, or all), as `gh cache delete`."""
        self._entries = [e for e in self._entries if not (e.key == key and ref in (None, e.scope))]

    def put(
        self,
        key: str,
        files: Mapping[str, str | bytes] | Path,
        *,
        path: str,
        ref: str = "refs/heads/main",
    ) -> CacheEntry:
        """Insert or replace an entry as if another run had saved it now (so it is the newest).
        `files` maps workspace-relative paths to contents, or is a directory laid out like the
        workspace; `path` is the action's `path:` input, which decides whether a restore can
        use the entry."""
        self.delete(key, ref)
        return self._store(key, cache_version(path), ref, files)

    def save(self, key: str, version: str, scope: str, files: Mapping[str, Path]) -> bool:
        """Save unless the key exists in this scope and version (caches are immutable)."""
        if any(e.key == key and e.version == version and e.scope == scope for e in self._entries):
            return False
        self._store(key, version, scope, files)
        return True

    def _store(
        self,
        key: str,
        version: str,
        scope: str,
        files: Mapping[str, str | bytes] | Mapping[str, Path] | Path,
    ) -> CacheEntry:
        created = next(self._clock)
        target = self.root / f"{created:06d}"
        if isinstance(files, Path):
            shutil.copytree(files, target, symlinks=True)
        else:
            for relative, content in files.items():
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, Path):
                    shutil.copyfile(content, destination)
                else:
                    data = content.encode() if isinstance(content, str) else content
                    destination.write_bytes(data)
        target.mkdir(parents=True, exist_ok=True)
        entry = CacheEntry(key, version, scope, created, target)
        self._entries.append(entry)
        return entry

    def find(self, keys: Sequence[str], version: str, scopes: Sequence[str]) -> CacheEntry | None:
        """GitHub's search: in each scope in turn, each key in turn (the primary key first),
        an exact match, else the newest entry whose key starts with it."""
        for scope in scopes:
            candidates = [e for e in self._entries if e.scope == scope and e.version == version]
            for key in keys:
                exact = [e for e in candidates if e.key == key]
                prefixed = exact or [e for e in candidates if e.key.startswith(key)]
                if prefixed:
                    return max(prefixed, key=lambda e: e.created)
        return None


# ---------------------------------------------------------------------------------------------
# Run options


@dataclass(frozen=True, slots=True)
class Timing:
    """GitHub's clock, scalable so tests need not wait for it."""

    sigint_grace: float = 7.5  # SIGINT to the step's process, then this long before SIGTERM
    sigterm_grace: float = 2.5  # SIGTERM, then this long before SIGKILL of the process tree
    output_grace: float = 5.0  # how long a finished step's output may stay open
    minute: float = 60.0  # what `timeout-minutes: 1` lasts, in seconds
    poll: float = 0.02


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the run while `step` (id or name; any step when None) of `job` (id or display
    name) runs: `when` seconds after that step started, or once `when()` returns true."""

    job: str
    step: str | None = None
    when: float | Callable[[], bool] = 0.0


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int = 1
    head: str = "feature"
    base: str | None = None  # the default branch when None


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What `before_job` is told about the job about to start."""

    job_id: str
    name: str
    matrix: Mapping[str, Value] | None
    run_id: int
    run_attempt: int


# ---------------------------------------------------------------------------------------------
# Logs: workflow commands and masking


class _Masker:
    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, value: str) -> None:
        for part in [value, *value.splitlines()]:
            if part.strip():
                self.secrets.add(part)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def leaks(self, text: str) -> bool:
        return any(secret in text for secret in self.secrets)


_COMMAND = re.compile(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$")


def _unescape(text: str, *, property_value: bool) -> str:
    text = text.replace("%0D", "\r").replace("%0A", "\n")
    if property_value:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%25", "%")


def _command_properties(raw: str | None) -> dict[str, str]:
    props: dict[str, str] = {}
    for item in (raw or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            props[key.strip()] = _unescape(value, property_value=True)
    return props


class _StepLog:
    """Processes one step's output lines as the runner does: workflow commands, masking."""

    def __init__(self, run: _RunState, job: str, step: str) -> None:
        self.run, self.job, self.step = run, job, step
        self.lines: list[str] = []
        self.stop_token: str | None = None

    def text(self) -> str:
        return "\n".join(self.lines)

    def info(self, line: str) -> None:
        self.lines.append(self.run.masker(line))

    def annotate(self, level: str, message: str, props: Mapping[str, str] | None = None) -> None:
        props = props or {}
        line_no = props.get("line")
        self.run.annotations.append(
            Annotation(
                level,
                self.run.masker(message),
                self.job,
                self.step,
                props.get("title"),
                props.get("file"),
                int(line_no) if line_no and line_no.isdigit() else None,
            )
        )
        self.info(f"##[{level}]{message}")

    def output(self, line: str) -> None:
        match = _COMMAND.match(line.lstrip())
        if self.stop_token is not None:
            if line.strip() == f"::{self.stop_token}::":
                self.stop_token = None
            else:
                self.info(line)
            return
        if match is None or not self._command(match):
            self.info(line)

    def _command(self, match: re.Match[str]) -> bool:
        name, props, message = match.group(1), match.group(2), match.group(3)
        message = _unescape(message, property_value=False)
        if name == "add-mask":
            self.run.masker.add(message)
        elif name in ("error", "warning", "notice"):
            self.annotate(name, message, _command_properties(props))
        elif name == "group":
            self.info(f"##[group]{message}")
        elif name == "endgroup":
            self.info("##[endgroup]")
        elif name == "stop-commands":
            self.stop_token = message
        elif name != "debug":  # debug lines only show with ACTIONS_STEP_DEBUG
            return False
        return True


# ---------------------------------------------------------------------------------------------
# Processes


@dataclass(frozen=True, slots=True)
class _Exit:
    code: int
    stopped: str | None  # "cancel" or "timeout" when the ladder stopped it


class _Ladder:
    """GitHub's cancellation: SIGINT to the step's process, SIGTERM to it `sigint_grace`
    later, SIGKILL to the whole process group `sigterm_grace` after that."""

    def __init__(self, proc: subprocess.Popen[bytes], timing: Timing) -> None:
        self.proc, self.timing = proc, timing
        self.started: float | None = None
        self.sent: list[str] = []

    def step(self, now: float) -> None:
        if self.started is None:
            self.started = now
            self._send("SIGINT", signal.SIGINT)
        elapsed = now - self.started
        if elapsed >= self.timing.sigint_grace and "SIGTERM" not in self.sent:
            self._send("SIGTERM", signal.SIGTERM)
        if elapsed >= self.timing.sigint_grace + self.timing.sigterm_grace:
            if "SIGKILL" not in self.sent:
                self.sent.append("SIGKILL")
            _kill_group(self.proc.pid)

    def _send(self, name: str, signum: int) -> None:
        self.sent.append(name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signum)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _pump(stream: Any, lines: queue.Queue[bytes | None]) -> None:
    # The pump owns the pipe: a background child may hold it open past the step, and closing
    # it from another thread while this one reads could block.
    with stream:
        for raw in iter(stream.readline, b""):
            lines.put(raw)
    lines.put(None)


def _drain(
    lines: queue.Queue[bytes | None], on_line: Callable[[str], None], deadline: float
) -> bool:
    """Hand lines over until the output ends (True) or `deadline` passes (False)."""
    for _ in range(10_000):  # bounded, so a flood of output cannot starve the caller's checks
        try:
            raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if raw is None:
            return True
        on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    return False


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timing: Timing,
    on_line: Callable[[str], None],
    check: Callable[[], str | None],
    groups: list[int] | None = None,
) -> _Exit:
    """Run a step's process in its own process group, stdout and stderr merged into its log,
    stopping it with GitHub's ladder when `check()` says "cancel" or "timeout"."""
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if groups is not None:
        groups.append(proc.pid)
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    try:
        stopped, ended = _supervise(proc, lines, on_line, check, timing)
    except BaseException:
        _kill_group(proc.pid)
        raise
    # The runner waits for the output to close (a background child may hold it open), then
    # kills what is left of the process tree.
    if not ended and not _drain(lines, on_line, time.monotonic() + timing.output_grace):
        _kill_group(proc.pid)
        _drain(lines, on_line, time.monotonic() + 1.0)
    code = proc.returncode
    return _Exit(128 - code if code < 0 else code, stopped)  # killed by signal N: 128 + N


def _supervise(
    proc: subprocess.Popen[bytes],
    lines: queue.Queue[bytes | None],
    on_line: Callable[[str], None],
    check: Callable[[], str | None],
    timing: Timing,
) -> tuple[str | None, bool]:
    """Relay output until the process exits, climbing the ladder once `check` asks to stop."""
    ladder, stopped, ended = _Ladder(proc, timing), None, False
    while proc.poll() is None:
        if ended:
            time.sleep(timing.poll)
        else:
            ended = _drain(lines, on_line, time.monotonic() + timing.poll)
        if stopped is None:
            stopped = check()
        if stopped is not None:
            ladder.step(time.monotonic())
    return stopped, ended


# ---------------------------------------------------------------------------------------------
# Shells (runner: ScriptHandler.cs, ScriptHandlerHelpers.cs)

_SHELL_ARGS = {
    "bash": "--noprofile --norc -e -o pipefail {0}",
    "sh": "-e {0}",
    "python": "{0}",
    "pwsh": "-command \". '{0}'\"",
    "powershell": "-command \". '{0}'\"",
}
_SHELL_EXTENSIONS = {"bash": ".sh", "sh": ".sh", "python": ".py", "pwsh": ".ps1"}


def shell_command(shell: str | None, script: Path, path: str) -> list[str]:
    """argv the runner starts for a `run:` step. No `shell:` is `bash -e {0}` (sh's
    arguments, bash's binary: no pipefail); `shell: bash` adds --noprofile --norc -o pipefail."""
    if not shell:
        program = shutil.which("bash", path=path) or shutil.which("sh", path=path)
        args = _SHELL_ARGS["sh"]
    else:
        command, _, args = shell.strip().partition(" ")
        program = shutil.which(command, path=path)
        args = args.strip() or _SHELL_ARGS.get(command, "")
    if "{0}" not in args:
        raise _StepFailed(
            "Invalid shell option. Shell must be a valid built-in (bash, sh, cmd, powershell, "
            "pwsh) or a format string containing '{0}'"
        )
    if program is None:
        raise _StepFailed(f"{(shell or 'bash').split()[0]}: command not found")
    return [program, *(part.replace("{0}", str(script)) for part in shlex.split(args))]


def script_extension(shell: str | None) -> str:
    return _SHELL_EXTENSIONS.get((shell or "sh").split()[0], "")


# ---------------------------------------------------------------------------------------------
# Environment files (runner: FileCommandManager.cs)

SUMMARY_LIMIT = 1024 * 1024


def _split_lines(text: str) -> Iterator[tuple[str, str | None]]:
    """Lines with the newline that ended each (None for a last line without one)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            yield text[pos:], None
            return
        yield text[pos:end], "\n"
        pos = end + 1


def parse_env_file(text: str) -> list[tuple[str, str]]:
    """`NAME=value` and `NAME<<DELIMITER` heredoc pairs of GITHUB_OUTPUT and GITHUB_ENV."""
    pairs: list[tuple[str, str]] = []
    lines = _split_lines(text)
    for line, _ in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, _, value = line.partition("=")
            pairs.append((name, value))
            continue
        if heredoc < 0:
            raise _StepFailed(f"Invalid format '{line}'")
        name, _, delimiter = line.partition("<<")
        if not name or not delimiter:
            raise _StepFailed(
                f"Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
            )
        pairs.append((name, _heredoc(lines, delimiter)))
    return pairs


def _heredoc(lines: Iterator[tuple[str, str | None]], delimiter: str) -> str:
    body: list[str] = []
    for line, newline in lines:
        if line == delimiter:
            return "\n".join(body)
        if newline is None:
            raise _StepFailed("Invalid value. EOF marker missing new line.")
        body.append(line)
    raise _StepFailed(f"Invalid value. Matching delimiter not found '{delimiter}'")


# ---------------------------------------------------------------------------------------------
# Workflow model


def _on(workflow: Mapping[str, Value]) -> dict[str, Value]:
    """The `on:` triggers as a mapping (a string or a list of events is allowed too)."""
    triggers = workflow.get("on")
    if isinstance(triggers, str):
        return {triggers: None}
    if isinstance(triggers, list):
        return {str(event): None for event in triggers}
    if isinstance(triggers, dict):
        return {str(k): v for k, v in triggers.items()}
    raise WorkflowError("the workflow has no `on:`")


def _needs(job: Mapping[str, Value]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else [str(n) for n in needs]


def job_order(jobs: Mapping[str, Mapping[str, Value]]) -> list[str]:
    """Jobs in an order that respects `needs` (YAML order among independent jobs)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(job_id: str) -> None:
        if job_id in order:
            return
        if job_id in visiting:
            raise WorkflowError(f"job {job_id!r} is part of a `needs` cycle")
        visiting.add(job_id)
        for need in _needs(jobs[job_id]):
            if need not in jobs:
                raise WorkflowError(f"job {job_id!r} needs unknown job {need!r}")
            visit(need)
        order.append(job_id)

    for job_id in jobs:
        visit(job_id)
    return order


def _ancestors(jobs: Mapping[str, Mapping[str, Value]], job_id: str) -> set[str]:
    seen: set[str] = set()
    stack = _needs(jobs[job_id])
    while stack:
        need = stack.pop()
        if need not in seen:
            seen.add(need)
            stack.extend(_needs(jobs[need]))
    return seen


def _typed_input(name: str, spec: Mapping[str, Value], value: Value, event: str) -> Value:
    kind = str(spec.get("type", "string"))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind == "number":
        if _kind(value) == "number":
            return value
        number = _to_number(value) if isinstance(value, str) and value.strip() else math.nan
        if not math.isnan(number):
            return number
    elif kind == "choice":
        options = [to_str(o) for o in spec.get("options") or []]
        if to_str(value) in options:
            return to_str(value)
        raise WorkflowError(f"{event}: input {name!r}: {value!r} is not one of {options}")
    elif _kind(value) != "array" and _kind(value) != "object":
        return to_str(value)
    raise WorkflowError(f"{event}: input {name!r} is of type {kind}, got {value!r}")


def typed_inputs(
    specs: Mapping[str, Mapping[str, Value] | None],
    given: Mapping[str, Value],
    event: str,
    scope: Scope | None = None,
) -> dict[str, Value]:
    """The `inputs` context: given values typed, defaults filled, required ones enforced."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise WorkflowError(f"{event}: unexpected inputs {unknown}")
    result: dict[str, Value] = {}
    for name, raw_spec in specs.items():
        spec = raw_spec or {}
        if name in given:
            result[name] = _typed_input(name, spec, given[name], event)
        elif "default" in spec:
            default = render(spec["default"], scope) if scope else spec["default"]
            result[name] = _typed_input(name, spec, default, event)
        elif spec.get("required"):
            raise WorkflowError(f"{event}: required input {name!r} not provided")
        else:
            result[name] = {"boolean": False, "number": None}.get(str(spec.get("type")), "")
    return result


def _matrix_matches(matrix: Mapping[str, Value], pattern: Mapping[str, Value]) -> bool:
    for key, expected in pattern.items():
        actual = _lookup(matrix, key) if isinstance(matrix, dict) else None
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not _matrix_matches(actual, expected):
                return False
        elif not _equals(actual, expected):
            return False
    return True


def _matrix_parts(
    matrix: Value,
) -> tuple[dict[str, list[Value]], list[dict[str, Value]], list[dict[str, Value]]]:
    """Vectors, include and exclude, validated with GitHub's messages."""
    if not isinstance(matrix, dict):
        raise WorkflowError(f"Unexpected value for matrix: {to_str(matrix)!r}")
    include = matrix.get("include") or []
    exclude = matrix.get("exclude") or []
    vectors = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    for name, vector in vectors.items():
        if not isinstance(vector, list) or not vector:
            raise WorkflowError(f"Matrix vector '{name}' does not contain any values")
    if not isinstance(include, list) or not isinstance(exclude, list):
        raise WorkflowError("Matrix include and exclude must be sequences")
    if not vectors and not include:
        raise WorkflowError("Matrix must define at least one vector")
    unknown = [key for item in exclude for key in item if key not in vectors]
    if unknown:
        raise WorkflowError(f"Matrix exclude key '{unknown[0]}' does not match any key")
    return vectors, include, exclude


def expand_matrix(matrix: Value) -> list[tuple[dict[str, Value], dict[str, Value]]]:
    """Matrix legs as (values that name the leg, full matrix), after GitHub's MatrixBuilder:
    the cross product minus excludes; each include adds its extra keys to every leg its
    original keys match, or becomes a leg of its own when it matches none."""
    vectors, include, exclude = _matrix_parts(matrix)
    legs: list[tuple[dict[str, Value], dict[str, Value]]] = []
    matched = [False] * len(include)
    product = itertools.product(*vectors.values()) if vectors else iter(())
    for combination in product:
        leg = dict(zip(vectors, combination, strict=True))
        if any(_matrix_matches(leg, item) for item in exclude):
            continue
        full = dict(leg)
        for i, item in enumerate(include):
            filter_ = {k: v for k, v in item.items() if k in vectors}
            if _matrix_matches(leg, filter_):
                matched[i] = True
                full.update({k: v for k, v in item.items() if k not in vectors})
        legs.append((leg, full))
    legs.extend((dict(item), dict(item)) for i, item in enumerate(include) if not matched[i])
    return legs


def _name_segments(value: Value) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _name_segments(item)
    elif isinstance(value, list):
        for item in value:
            yield from _name_segments(item)
    elif value is not None and to_str(value):
        yield to_str(value)


def leg_name(base: str, naming_values: Mapping[str, Value]) -> str:
    """A matrix leg's default name: `job (a, b)`, cut to 100 characters."""
    segments = list(_name_segments(dict(naming_values)))
    name = f"{base} ({', '.join(segments)})" if segments else base
    return name if len(name) <= 100 else name[:97] + "..."


# ---------------------------------------------------------------------------------------------
# Run state


@dataclass
class _RunState:
    """Everything one run (one attempt) accumulates."""

    run_id: int
    attempt: int
    timing: Timing
    cancel: Cancel | None
    before_job: Callable[[JobInfo], None] | None
    artifacts: ArtifactStore
    cache: CacheStore
    masker: _Masker = field(default_factory=_Masker)
    annotations: list[Annotation] = field(default_factory=list)
    mocked: list[MockedAction] = field(default_factory=list)
    jobs: dict[str, JobResult] = field(default_factory=dict)
    cancelled: bool = False
    cancel_started: float | None = None

    def record(self, job: JobResult) -> str:
        name = job.name
        for n in itertools.count(2):
            if name not in self.jobs:
                break
            name = f"{job.name} #{n}"
        self.jobs[name] = job
        return name

    def poll_cancel(self, job_id: str, job_name: str, step: tuple[str | None, ...]) -> bool:
        """True when the requested cancellation fires, while that job's step runs. Only the
        job running then is cancelled: jobs starting later (an always() job) run normally."""
        request = self.cancel
        if self.cancelled or request is None:
            return False
        if request.job not in (job_id, job_name):
            return False
        if request.step is not None and request.step not in step:
            return False
        if self.cancel_started is None:
            self.cancel_started = time.monotonic()
        when = request.when
        fire = when() if callable(when) else time.monotonic() - self.cancel_started >= when
        self.cancelled = bool(fire)
        return self.cancelled


@dataclass
class _Workflow:
    path: Path
    data: dict[str, Value]
    jobs: dict[str, dict[str, Value]]

    @classmethod
    def load(cls, path: Path) -> _Workflow:
        data = load_yaml(path)
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
            raise WorkflowError(f"{path}: not a workflow (no `jobs:` mapping)")
        jobs = {str(k): v for k, v in data["jobs"].items()}
        for job_id, job in jobs.items():
            if not isinstance(job, dict):
                raise WorkflowError(f"{path}: job {job_id!r} is not a mapping")
            if "container" in job or "services" in job:
                raise WorkflowError(f"{path}: job {job_id!r}: containers are not modelled")
        return cls(path, data, jobs)


@dataclass
class _WorkflowCall:
    """One execution of a workflow: the top-level run or a reusable workflow's call."""

    workflow: _Workflow
    inputs: dict[str, Value]
    secrets: dict[str, str]
    prefix: str  # "caller / " for a reusable workflow's jobs
    github: dict[str, Value]


# ---------------------------------------------------------------------------------------------
# The runner


_SCRUBBED_PREFIXES = ("GITHUB_", "RUNNER_", "TRAIN_ORCH_", "MLFLOW_")
_BUILTIN_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/cache",
    "actions/cache/restore",
    "actions/cache/save",
}


class LocalRunner:
    """Runs workflows from `source` on this machine; see the module docstring."""

    def __init__(
        self,
        source: Path,
        *,
        workdir: Path,
        actions: Mapping[str, Path] | None = None,
        default_branch: str = "main",
        repository: str = "acme/training-orchestrator",
        vars: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.source = Path(source).resolve()
        self.workdir = Path(workdir).resolve()
        self.actions = {k.lower(): Path(v).resolve() for k, v in (actions or {}).items()}
        self.default_branch = default_branch
        self.repository = repository
        self.vars = dict(vars or {})
        base = dict(os.environ if env is None else env)
        self.base_env = {k: v for k, v in base.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        self.timing = timing or Timing()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cache = CacheStore(self.workdir / "cache")
        self._artifacts: dict[int, ArtifactStore] = {}
        self._run_ids = itertools.count(1001)

    def artifacts(self, run_id: int) -> dict[str, Artifact]:
        """The artifacts a run (any attempt so far) has, latest per name."""
        store = self._artifacts.get(run_id)
        return store.latest() if store else {}

    def run(
        self,
        workflow: str | Path,
        *,
        event: str = "workflow_dispatch",
        inputs: Mapping[str, Value] | None = None,
        ref: str | None = None,
        sha: str | None = None,
        secrets: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        run_id: int | None = None,
        run_attempt: int = 1,
        cancel: Cancel | None = None,
        before_job: Callable[[JobInfo], None] | None = None,
        pull_request: PullRequest | None = None,
        payload: Mapping[str, Value] | None = None,
    ) -> RunResult:
        """Run one workflow event to completion; see the module docstring."""
        path = Path(workflow) if Path(workflow).is_absolute() else self.source / workflow
        wf = _Workflow.load(path)
        triggers = _on(wf.data)
        if event not in triggers:
            raise WorkflowError(f"{path.name} does not run on {event!r} (on: {list(triggers)})")
        run_id = next(self._run_ids) if run_id is None else run_id
        store = self._artifacts.setdefault(
            run_id, ArtifactStore(self.workdir / "artifacts" / str(run_id))
        )
        state = _RunState(run_id, run_attempt, self.timing, cancel, before_job, store, self.cache)
        secret_values = {"GITHUB_TOKEN": f"ghs_local{run_id}x{uuid.uuid4().hex[:20]}"}
        secret_values.update(secrets or {})
        for value in secret_values.values():
            state.masker.add(value)
        event_info = _EventInfo.build(
            self, wf, event, given=inputs or {}, ref=ref, sha=sha, pr=pull_request, extra=payload
        )
        github = self._github_context(wf, event_info, state)
        github["token"] = secret_values["GITHUB_TOKEN"]
        context_vars = {**self.vars, **(vars or {})}
        call = _WorkflowCall(wf, event_info.inputs, secret_values, "", github)
        scheduler = _Scheduler(self, state, context_vars, event_info)
        needs = scheduler.run_workflow(call)
        return self._result(state, needs, scheduler.legs)

    def _github_context(
        self, wf: _Workflow, info: _EventInfo, state: _RunState
    ) -> dict[str, Value]:
        owner = self.repository.split("/")[0]
        return {
            "action": "",
            "action_path": "",
            "action_ref": "",
            "action_repository": "",
            "actor": "local-tester",
            "triggering_actor": "local-tester",
            "api_url": "https://api.github.com",
            "graphql_url": "https://api.github.com/graphql",
            "server_url": "https://github.com",
            "base_ref": info.base_ref,
            "head_ref": info.head_ref,
            "event": info.payload,
            "event_name": info.event,
            "event_path": "",
            "job": "",
            "ref": info.ref,
            "ref_name": info.ref_name,
            "ref_protected": False,
            "ref_type": "tag" if info.ref.startswith("refs/tags/") else "branch",
            "repository": self.repository,
            "repository_owner": owner,
            "repositoryUrl": f"git://github.com/{self.repository}.git",
            "retention_days": "90",
            "run_attempt": str(state.attempt),
            "run_id": str(state.run_id),
            "run_number": str(state.run_id % 1000),
            "secret_source": "Actions",
            "sha": info.sha,
            "token": "",
            "workflow": str(wf.data.get("name") or self.workflow_rel(wf.path)),
            "workflow_ref": f"{self.repository}/{self.workflow_rel(wf.path)}@{info.ref}",
            "workflow_sha": info.sha,
            "workspace": "",
        }

    def workflow_rel(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.resolve().relative_to(self.source))
        return path.name

    def _result(
        self, state: _RunState, needs: Mapping[str, Needs], legs: Mapping[str, list[str]]
    ) -> RunResult:
        results = [n.result for n in needs.values()]
        if state.cancelled:
            conclusion = "cancelled"
        elif "failure" in results:
            conclusion = "failure"
        elif "cancelled" in results:
            conclusion = "cancelled"
        else:
            conclusion = "success"
        return RunResult(
            conclusion=conclusion,
            jobs=dict(state.jobs),
            summary="".join(job.summary for job in state.jobs.values()),
            artifacts={name: a.path for name, a in state.artifacts.latest().items()},
            annotations=tuple(state.annotations),
            mocked_actions=tuple(state.mocked),
            run_id=state.run_id,
            run_attempt=state.attempt,
            needs_by_job=dict(needs),
            legs_by_job={k: tuple(v) for k, v in legs.items()},
        )

    # ---- checkout source

    def source_files(self, source: Path) -> list[str]:
        """What actions/checkout brings: the commit's files. For a git working tree, tracked
        and untracked-but-not-ignored files, so a test sees uncommitted edits."""
        git = shutil.which("git")
        if git and (source / ".git").exists():
            listing = subprocess.run(
                [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                cwd=source,
                capture_output=True,
                check=False,
            )
            if listing.returncode == 0:
                return sorted({name for name in listing.stdout.decode().split("\0") if name})
        return sorted(
            str(p.relative_to(source))
            for p in source.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(source).parts
        )


@dataclass(frozen=True, slots=True)
class _EventInfo:
    event: str
    ref: str
    ref_name: str
    sha: str
    base_ref: str
    head_ref: str
    payload: dict[str, Value]
    inputs: dict[str, Value]
    cache_scopes: tuple[str, ...]  # where a cache restore looks, in order
    save_scope: str

    @classmethod
    def build(
        cls,
        runner: LocalRunner,
        wf: _Workflow,
        event: str,
        *,
        given: Mapping[str, Value],
        ref: str | None,
        sha: str | None,
        pr: PullRequest | None,
        extra: Mapping[str, Value] | None,
    ) -> _EventInfo:
        triggers = _on(wf.data)
        default_ref = f"refs/heads/{runner.default_branch}"
        ref = default_ref if ref is None else ref
        ref = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        sha = sha or _source_sha(runner.source)
        owner, _, name = runner.repository.partition("/")
        repository = {
            "full_name": runner.repository,
            "name": name,
            "owner": {"login": owner},
            "default_branch": runner.default_branch,
            "private": False,
            "html_url": f"https://github.com/{runner.repository}",
        }
        payload: dict[str, Value] = {"repository": repository, "sender": {"login": "local-tester"}}
        inputs: dict[str, Value] = {}
        base_ref = head_ref = ""
        if event == "workflow_dispatch":
            specs = (triggers.get(event) or {}).get("inputs") or {}
            inputs = typed_inputs(specs, given, event)
            # The event payload carries the form as strings; only `inputs` keeps the types.
            payload.update(inputs={k: to_str(v) for k, v in inputs.items()}, ref=ref)
            payload["workflow"] = runner.workflow_rel(wf.path)
        elif given:
            raise WorkflowError(f"{event} events carry no inputs")
        if event == "schedule":
            crons = triggers.get("schedule") or [{}]
            payload["schedule"] = crons[0].get("cron", "") if isinstance(crons, list) else ""
            ref = default_ref
        elif event == "push":
            payload.update(
                ref=ref,
                before="0" * 40,
                after=sha,
                created=False,
                deleted=False,
                forced=False,
                pusher={"name": "local-tester"},
                commits=[],
                head_commit={"id": sha, "message": "local commit"},
            )
        elif event == "pull_request":
            pr = pr or PullRequest()
            base_ref, head_ref = pr.base or runner.default_branch, pr.head
            ref = f"refs/pull/{pr.number}/merge"
            payload.update(
                action="synchronize",
                number=pr.number,
                pull_request={
                    "number": pr.number,
                    "state": "open",
                    "draft": False,
                    "merged": False,
                    "head": {"ref": head_ref, "sha": sha, "repo": repository},
                    "base": {"ref": base_ref, "sha": sha, "repo": repository},
                    "user": {"login": "local-tester"},
                    "title": "local pull request",
                },
            )
        payload = _deep_merge(payload, extra or {})
        ref_name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        ref_name = ref_name.removeprefix("refs/pull/")
        scopes = [ref]
        if base_ref:
            scopes.append(f"refs/heads/{base_ref}")
        scopes.append(default_ref)
        return cls(
            event,
            ref,
            ref_name,
            sha,
            base_ref,
            head_ref,
            payload,
            inputs,
            tuple(dict.fromkeys(scopes)),
            ref,
        )


def _deep_merge(base: Mapping[str, Value], extra: Mapping[str, Value]) -> dict[str, Value]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _source_sha(source: Path) -> str:
    git = shutil.which("git")
    if git and (source / ".git").exists():
        done = subprocess.run(
            [git, "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return hashlib.sha1(str(source).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Scheduling jobs


def _aggregate(results: Sequence[str]) -> str:
    if "failure" in results:
        return "failure"
    if "cancelled" in results:
        return "cancelled"
    if results and all(r == "skipped" for r in results):
        return "skipped"
    return "success"


class _Scheduler:
    """Runs a workflow's jobs in `needs` order, one leg at a time."""

    def __init__(
        self, runner: LocalRunner, state: _RunState, vars_: dict[str, str], info: _EventInfo
    ) -> None:
        self.runner, self.state, self.vars, self.info = runner, state, vars_, info
        self.legs: dict[str, list[str]] = {}

    def run_workflow(self, call: _WorkflowCall) -> dict[str, Needs]:
        needs: dict[str, Needs] = {}
        for job_id in job_order(call.workflow.jobs):
            legs = self.legs.setdefault(call.prefix + job_id, [])
            needs[job_id] = self._job(call, job_id, needs, legs)
        return needs

    def _job_status(self, call: _WorkflowCall, job_id: str, needs: Mapping[str, Needs]) -> Scope:
        ancestors = [needs[a].result for a in _ancestors(call.workflow.jobs, job_id)]
        cancelled = self.state.cancelled
        functions: dict[str, Callable[..., Value]] = {
            "success": lambda: not cancelled and all(r == "success" for r in ancestors),
            "failure": lambda: "failure" in ancestors,
            "cancelled": lambda: cancelled,
            "always": lambda: True,
        }
        return Scope(self._base_contexts(call, job_id, needs), functions)

    def _base_contexts(
        self, call: _WorkflowCall, job_id: str, needs: Mapping[str, Needs]
    ) -> dict[str, Value]:
        own = _needs(call.workflow.jobs[job_id])
        return {
            "github": call.github,
            "needs": {
                n: {"result": needs[n].result, "outputs": dict(needs[n].outputs)} for n in own
            },
            "vars": self.vars,
            "inputs": call.inputs,
        }

    def _job(
        self, call: _WorkflowCall, job_id: str, needs: Mapping[str, Needs], legs: list[str]
    ) -> Needs:
        spec = call.workflow.jobs[job_id]
        scope = self._job_status(call, job_id, needs)
        try:
            run_it = evaluate_if(spec.get("if"), scope)
            strategy = self._strategy(spec, scope) if run_it else _Strategy()
        except WorkflowError as error:
            name = call.prefix + str(spec.get("name") or job_id)
            self.state.annotations.append(Annotation("error", str(error), name))
            legs.append(self.state.record(_empty_job(job_id, name, "failure")))
            return Needs("failure", {})
        if not run_it:
            name = call.prefix + str(spec.get("name") or job_id)
            legs.append(self.state.record(_empty_job(job_id, name, "skipped")))
            return Needs("skipped", {})
        return self._legs(call, job_id, spec, scope=scope, strategy=strategy, legs=legs)

    def _strategy(self, spec: Mapping[str, Value], scope: Scope) -> _Strategy:
        raw = render(spec.get("strategy") or {}, Scope(scope.contexts))
        if not isinstance(raw, dict):
            raise WorkflowError("strategy must be a mapping")
        legs: list[tuple[dict[str, Value] | None, dict[str, Value] | None]] = [(None, None)]
        if "matrix" in raw:
            legs = list(expand_matrix(raw["matrix"]))
        max_parallel = int(_to_number(raw.get("max-parallel", 0))) or len(legs)
        return _Strategy(legs, truthy(raw.get("fail-fast", True)), max_parallel)

    def _legs(
        self,
        call: _WorkflowCall,
        job_id: str,
        spec: Mapping[str, Value],
        *,
        scope: Scope,
        strategy: _Strategy,
        legs: list[str],
    ) -> Needs:
        cancelled_before = self.state.cancelled
        results: list[str] = []
        outputs: dict[str, str] = {}
        for index, (naming, matrix) in enumerate(strategy.legs):
            strategy_ctx = {
                "fail-fast": strategy.fail_fast,
                "job-index": index,
                "job-total": len(strategy.legs),
                "max-parallel": strategy.max_parallel,
            }
            contexts = {**scope.contexts, "matrix": matrix, "strategy": strategy_ctx}
            name = call.prefix + self._leg_name(job_id, spec, naming, contexts)
            # Sequential legs: those a fail-fast or a cancel would have stopped never start.
            stop = (self.state.cancelled and not cancelled_before) or (
                strategy.fail_fast and "failure" in results
            )
            if stop:
                legs.append(self.state.record(_empty_job(job_id, name, "cancelled", matrix)))
                results.append("cancelled")
                continue
            leg = _Leg(call, job_id, spec, name, matrix, contexts)
            result, leg_outputs = self._leg(leg, legs)
            results.append(result)
            outputs.update({k: v for k, v in leg_outputs.items() if v != ""})
        return Needs(_aggregate(results), outputs)

    def _leg_name(
        self,
        job_id: str,
        spec: Mapping[str, Value],
        naming: Mapping[str, Value] | None,
        contexts: Mapping[str, Value],
    ) -> str:
        raw = spec.get("name")
        if raw is not None and "${{" in to_str(raw):
            with contextlib.suppress(WorkflowError):
                return render_str(raw, Scope(contexts), "name")
            return to_str(raw)
        base = to_str(raw) if raw is not None else job_id
        return leg_name(base, naming) if naming is not None else base

    def _leg(self, leg: _Leg, legs: list[str]) -> tuple[str, dict[str, str]]:
        if "uses" in leg.spec:  # not a job on a runner: the hook sees the callee's jobs
            return self._reusable(leg, legs)
        if self.state.before_job is not None:
            self.state.before_job(
                JobInfo(leg.job_id, leg.name, leg.matrix, self.state.run_id, self.state.attempt)
            )
        job = _JobRun(self, leg)
        result = job.execute()
        legs.append(self.state.record(result))
        return result.result, dict(result.outputs)

    # ---- reusable workflows

    def _reusable(self, leg: _Leg, legs: list[str]) -> tuple[str, dict[str, str]]:
        scope = Scope(leg.contexts)
        try:
            callee = _Workflow.load(self.resolve_workflow(to_str(leg.spec["uses"])))
            call = self._callee_call(leg, callee, scope)
        except WorkflowError as error:
            self.state.annotations.append(Annotation("error", str(error), leg.name))
            legs.append(self.state.record(_empty_job(leg.job_id, leg.name, "failure")))
            return "failure", {}
        inner = self.run_workflow(call)
        for job_id in inner:
            legs.extend(self.legs.pop(call.prefix + job_id, []))
        result = _aggregate([n.result for n in inner.values()])
        jobs_ctx = {k: {"result": n.result, "outputs": dict(n.outputs)} for k, n in inner.items()}
        specs = (_on(callee.data).get("workflow_call") or {}).get("outputs") or {}
        out_scope = Scope(
            {"github": call.github, "jobs": jobs_ctx, "vars": self.vars, "inputs": call.inputs}
        )
        outputs = {
            name: render_str((spec or {}).get("value", ""), out_scope, f"outputs.{name}")
            for name, spec in specs.items()
        }
        return result, outputs

    def resolve_workflow(self, uses: str) -> Path:
        if uses.startswith("./"):
            return self.runner.source / uses[2:]
        target, _, _ = uses.partition("@")
        owner, _, rest = target.partition("/")
        repo, _, path = rest.partition("/")
        root = self.runner.actions.get(f"{owner}/{repo}".lower())
        if root is None:
            raise WorkflowError(f"reusable workflow {uses!r}: map {owner}/{repo} in `actions=`")
        return root / path

    def _callee_call(self, leg: _Leg, callee: _Workflow, scope: Scope) -> _WorkflowCall:
        trigger = _on(callee.data)
        if "workflow_call" not in trigger:
            raise WorkflowError(f"{callee.path.name} is not a reusable workflow (no workflow_call)")
        spec = trigger["workflow_call"] or {}
        given = render(leg.spec.get("with") or {}, scope)
        inputs = typed_inputs(spec.get("inputs") or {}, given, "workflow_call", scope)
        caller_secrets = leg.call.secrets
        raw = leg.spec.get("secrets")
        if raw == "inherit":
            secrets = dict(caller_secrets)
        else:
            secret_scope = Scope({**scope.contexts, "secrets": caller_secrets})
            secrets = {"GITHUB_TOKEN": caller_secrets["GITHUB_TOKEN"]}
            secrets.update(
                {k: render_str(v, secret_scope, f"secrets.{k}") for k, v in (raw or {}).items()}
            )
        for name, secret_spec in (spec.get("secrets") or {}).items():
            if (secret_spec or {}).get("required") and name not in secrets:
                raise WorkflowError(f"workflow_call: required secret {name!r} not provided")
        return _WorkflowCall(callee, inputs, secrets, leg.name + " / ", leg.call.github)


@dataclass(frozen=True, slots=True)
class _Strategy:
    legs: list[tuple[dict[str, Value] | None, dict[str, Value] | None]] = field(
        default_factory=list
    )  # (values naming the leg, matrix context)
    fail_fast: bool = True
    max_parallel: int = 1


@dataclass(frozen=True, slots=True)
class _Leg:
    call: _WorkflowCall
    job_id: str
    spec: Mapping[str, Value]
    name: str
    matrix: dict[str, Value] | None
    contexts: Mapping[str, Value]  # github, needs, vars, inputs, matrix, strategy


def _empty_job(
    job_id: str, name: str, conclusion: str, matrix: Mapping[str, Value] | None = None
) -> JobResult:
    return JobResult(job_id, name, conclusion, conclusion, {}, (), "", "", matrix, None)


# ---------------------------------------------------------------------------------------------
# One job leg


@dataclass
class _Frame:
    """Where steps run: the job itself, or a composite action inside it."""

    steps: dict[str, Value]
    inputs: Mapping[str, Value]
    action_path: str = ""
    action_status: str | None = None  # composite actions' success()/failure() look at this
    env: dict[str, str] = field(default_factory=dict)  # env of the step that called the action
    parent: _StepRun | None = None  # the step running this composite action


@dataclass
class _StepRun:
    """A step that passed its `if:`: what cancellation re-checks and what its result gathers."""

    frame: _Frame
    spec: Mapping[str, Value]
    id: str | None
    name: str
    env: dict[str, str]  # the step's own `env:`, rendered
    scope: Scope
    log: _StepLog
    deadline: float | None
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def chain(self) -> Iterator[_StepRun]:
        """This step, then each composite step it runs inside."""
        step: _StepRun | None = self
        while step is not None:
            yield step
            step = step.frame.parent

    def names(self) -> tuple[str | None, ...]:
        return tuple(name for step in self.chain() for name in (step.id, step.name))


class _JobRun:
    """Executes one job (one matrix leg) on a fresh 'machine' under the run's directory."""

    def __init__(self, scheduler: _Scheduler, leg: _Leg) -> None:
        self.scheduler, self.leg = scheduler, leg
        self.state, self.runner = scheduler.state, scheduler.runner
        self.timing = self.state.timing
        machine = _machine_dir(self.runner.workdir, self.state, leg.job_id)
        repo_name = self.runner.repository.split("/")[-1]
        self.workspace = machine / "work" / repo_name / repo_name
        self.temp, self.home = machine / "temp", machine / "home"
        self.tool_cache = machine / "toolcache"
        for directory in (self.workspace, self.temp, self.home, self.tool_cache):
            directory.mkdir(parents=True, exist_ok=True)
        self.github = {**leg.call.github, "job": leg.job_id, "workspace": str(self.workspace)}
        self.env: dict[str, str] = {}  # workflow and job env, plus what GITHUB_ENV added
        self.prepend_path: list[str] = []
        self.status = "success"  # job.status: what the status functions of steps read
        self.timed_out = False
        self.timeout_minutes = 360.0
        self.deadline: float | None = None
        self.steps: list[StepResult] = []
        self.post_steps: list[tuple[str, Callable[[], str]]] = []
        self.python_versions: list[str] = []
        self.groups: list[int] = []
        self.defaults: dict[str, Value] = {}
        self.top = _Frame({}, leg.call.inputs)

    # ---- job lifecycle

    def execute(self) -> JobResult:
        continue_on_error = False
        try:
            scope = self._prepare()
            continue_on_error = truthy(render(self.leg.spec.get("continue-on-error", False), scope))
            for spec in self.leg.spec.get("steps") or []:
                self.steps.append(self._step(self.top, spec))
            self._post_steps()
        except WorkflowError as error:
            self.state.annotations.append(Annotation("error", str(error), self.leg.name))
            self.status = "failure"
        finally:
            for group in self.groups:  # "Cleaning up orphan processes"
                _kill_group(group)
        return self._result(continue_on_error)

    def _prepare(self) -> Scope:
        event_path = self.temp / "_github_workflow" / "event.json"
        event_path.parent.mkdir(parents=True, exist_ok=True)
        event_path.write_text(json.dumps(self.github["event"], indent=2))
        self.github["event_path"] = str(event_path)
        scope = Scope(self._job_contexts())
        for raw_env in (self.leg.call.workflow.data.get("env"), self.leg.spec.get("env")):
            for key, value in (raw_env or {}).items():
                self.env[str(key)] = render_str(value, scope, f"env.{key}")
        defaults = {
            **((self.leg.call.workflow.data.get("defaults") or {}).get("run") or {}),
            **((self.leg.spec.get("defaults") or {}).get("run") or {}),
        }
        self.defaults = render(defaults, scope)
        self.timeout_minutes = _to_number(render(self.leg.spec.get("timeout-minutes", 360), scope))
        self.deadline = time.monotonic() + self.timeout_minutes * self.timing.minute
        return scope

    def _result(self, continue_on_error: bool) -> JobResult:
        conclusion = "failure" if self.timed_out else self.status
        result = "success" if conclusion == "failure" and continue_on_error else conclusion
        log = "\n".join(f"##[group]{s.name}\n{s.log}\n##[endgroup]" for s in self.steps)
        return JobResult(
            self.leg.job_id,
            self.leg.name,
            conclusion,
            result,
            self._outputs(),
            tuple(self.steps),
            log,
            "".join(s.summary for s in self.steps),
            self.leg.matrix,
            self.workspace,
            tuple(self.python_versions),
        )

    def _outputs(self) -> dict[str, str]:
        scope = Scope({**self._job_contexts(), "steps": self.top.steps, "env": dict(self.env)})
        outputs: dict[str, str] = {}
        for name, raw in (self.leg.spec.get("outputs") or {}).items():
            try:
                value = render_str(raw, scope, f"outputs.{name}")
            except WorkflowError as error:
                self.state.annotations.append(Annotation("error", str(error), self.leg.name))
                continue
            if not self.state.masker.leaks(value):  # else "Skip output since it may contain secret"
                outputs[str(name)] = value
        return outputs

    def _post_steps(self) -> None:
        for name, action in reversed(self.post_steps):
            if self.status != "success":  # post-if: success()
                self.steps.append(StepResult(name, None, None, "skipped", "skipped", {}, "", ""))
                continue
            log = _StepLog(self.state, self.leg.name, name)
            log.info(action())
            self.steps.append(
                StepResult(name, None, None, "success", "success", {}, log.text(), "")
            )

    # ---- contexts

    def _job_contexts(self) -> dict[str, Value]:
        return {
            **self.leg.contexts,
            "github": self.github,
            "secrets": self.leg.call.secrets,
            "job": {"status": self.status, "container": {"network": ""}, "services": {}},
            "runner": {
                "os": "Linux",
                "arch": "X64",
                "name": "GitHub Actions 1",
                "environment": "github-hosted",
                "temp": str(self.temp),
                "tool_cache": str(self.tool_cache),
                "debug": "",
            },
        }

    def _scope(self, frame: _Frame, env: Mapping[str, str], action: str = "") -> Scope:
        github = {**self.github, "action_path": frame.action_path, "action": action}
        contexts = {
            **self._job_contexts(),
            "github": github,
            "steps": frame.steps,
            "inputs": frame.inputs,
            "env": dict(env),
        }

        def status() -> str:
            # Inside a composite action, success() and failure() read the action's status.
            return frame.action_status if frame.action_status is not None else self.status

        functions: dict[str, Callable[..., Value]] = {
            "success": lambda: self.status != "cancelled" and status() == "success",
            "failure": lambda: self.status != "cancelled" and status() == "failure",
            "cancelled": lambda: self.status == "cancelled",
            "always": lambda: True,
            "hashfiles": lambda *patterns: hash_files(patterns, self.workspace, self.home),
        }
        return Scope(contexts, functions)

    def _cancelled_now(self, running: tuple[str | None, ...]) -> bool:
        """True when the job has just been cancelled: by its timeout-minutes, or by the run's
        cancellation (the requested one fires only while its step is `running`)."""
        if self.status == "cancelled":
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.timed_out = True
            self.state.annotations.append(
                Annotation(
                    "error",
                    "The job running on runner GitHub Actions 1 has exceeded the maximum execution "
                    f"time of {_number_text(self.timeout_minutes)} minutes.",
                    self.leg.name,
                )
            )
        elif not (running and self.state.poll_cancel(self.leg.job_id, self.leg.name, running)):
            return False
        self.status = "cancelled"
        return True

    # ---- steps

    def _step(self, frame: _Frame, spec: Mapping[str, Value]) -> StepResult:
        step_id = None if spec.get("id") is None else to_str(spec["id"])
        action = step_id or ("__run" if "run" in spec else "__" + to_str(spec.get("uses")))
        scope = self._scope(frame, {**self.env, **frame.env}, action)
        name = self._display_name(spec, scope)
        log = _StepLog(self.state, self.leg.name, name)
        try:
            step_env = {
                str(k): render_str(v, scope, f"env.{k}") for k, v in (spec.get("env") or {}).items()
            }
        except WorkflowError as error:
            log.annotate("error", str(error))
            return self._finish(frame, spec, "failure", log=log)
        self._cancelled_now(())
        scope = self._scope(frame, {**self.env, **frame.env, **step_env}, action)
        try:
            run_it = evaluate_if(spec.get("if"), scope)
        except WorkflowError as error:
            log.annotate("error", str(error))
            return self._finish(frame, spec, "failure", log=log)
        if not run_it:
            return self._finish(frame, spec, "skipped", log=log)
        deadline = None
        if spec.get("timeout-minutes") is not None:
            minutes = _to_number(render(spec["timeout-minutes"], scope))
            deadline = time.monotonic() + minutes * self.timing.minute
        step = _StepRun(frame, spec, step_id, name, step_env, scope, log, deadline)
        result = self._run(step)
        if "run" not in spec:
            # An emulated action is instantaneous: a cancel aimed at it lands once it is done.
            self._cancelled_now(step.names())
        return self._finish(
            frame, spec, result, log=log, outputs=step.outputs, summary=step.summary
        )

    def _display_name(self, spec: Mapping[str, Value], scope: Scope) -> str:
        if spec.get("name") is not None:
            with contextlib.suppress(WorkflowError):
                return render_str(spec["name"], scope, "name")
            return to_str(spec["name"])
        if spec.get("uses") is not None:
            return f"Run {to_str(spec['uses'])}"
        return "Run " + to_str(spec.get("run", "")).strip().split("\n")[0]

    def _finish(
        self,
        frame: _Frame,
        spec: Mapping[str, Value],
        result: str,
        *,
        log: _StepLog,
        outputs: Mapping[str, str] | None = None,
        summary: str = "",
    ) -> StepResult:
        step_id = None if spec.get("id") is None else to_str(spec["id"])
        name = log.step
        conclusion = result
        if result == "failure":
            allowed = render(spec.get("continue-on-error", False), self._scope(frame, self.env))
            conclusion = "success" if truthy(allowed) else "failure"
        if conclusion == "failure":
            if frame.action_status is not None:
                frame.action_status = "failure"
            elif self.status != "cancelled":  # a cancelled job stays cancelled
                self.status = "failure"
        elif result == "cancelled":
            self.status = "cancelled"
        outputs = dict(outputs or {})
        if step_id is not None:
            frame.steps[step_id] = {"outputs": outputs, "outcome": result, "conclusion": conclusion}
        uses = None if spec.get("uses") is None else to_str(spec["uses"])
        return StepResult(name, step_id, uses, result, conclusion, outputs, log.text(), summary)

    def _run(self, step: _StepRun) -> str:
        try:
            if "run" in step.spec:
                return self._run_script(step)
            return self._uses(step)
        except (_StepFailed, WorkflowError) as error:
            step.log.annotate("error", str(error))
            return "failure"

    def _check(self, step: _StepRun) -> Callable[[], str | None]:
        """Polled while the step's process runs: "cancel" once the job is cancelled and the
        `if:` of the step (or of a composite step around it) no longer holds, as the runner
        re-tests it (an always() step keeps running); "timeout" at its timeout-minutes."""

        def check() -> str | None:
            if self._cancelled_now(step.names()):
                for outer in step.chain():
                    scope = self._scope(outer.frame, outer.scope.contexts["env"])
                    if not evaluate_if(outer.spec.get("if"), scope):
                        return "cancel"
            if any(s.deadline is not None and time.monotonic() >= s.deadline for s in step.chain()):
                return "timeout"
            return None

        return check

    # ---- run: steps

    def _working_directory(self, step: _StepRun) -> Path:
        raw = step.spec.get("working-directory")
        if raw is None and step.frame.parent is None:
            raw = self.defaults.get("working-directory")
        if raw is None:
            return self.workspace
        path = self.workspace / render_str(raw, step.scope, "working-directory")
        if not path.is_dir():
            raise _StepFailed(f"An error occurred trying to start process: no directory {path}")
        return path

    def _shell(self, step: _StepRun) -> str | None:
        raw = step.spec.get("shell")
        if raw is None and step.frame.parent is not None:
            raise WorkflowError("Required property is missing: shell (composite `run` steps)")
        if raw is None:  # job and workflow `defaults.run` apply outside composite actions only
            raw = self.defaults.get("shell")
        return None if raw is None else render_str(raw, step.scope, "shell")

    def _run_script(self, step: _StepRun) -> str:
        shell = self._shell(step)
        script = render_str(step.spec.get("run", ""), step.scope, "run")
        cwd = self._working_directory(step)
        script_path = self.temp / f"{uuid.uuid4()}{script_extension(shell)}"
        script_path.write_text(script, encoding="utf-8")
        files = self._file_commands()
        env = self._process_env(step, files)
        argv = shell_command(shell, script_path, env["PATH"])
        step.log.info(f"shell: {' '.join(argv[:-1])} {{0}}")
        done = run_process(
            argv,
            cwd=cwd,
            env=env,
            timing=self.timing,
            on_line=step.log.output,
            check=self._check(step),
            groups=self.groups,
        )
        files_ok = self._apply_file_commands(step, files)
        if done.stopped == "cancel":
            step.log.annotate("error", "The operation was canceled.")
            return "cancelled"
        if done.stopped == "timeout":
            minutes = _number_text(_to_number(render(step.spec.get("timeout-minutes"), step.scope)))
            step.log.annotate(
                "error", f"The action '{step.name}' has timed out after {minutes} minutes."
            )
            return "failure"
        if done.code != 0:
            step.log.annotate("error", f"Process completed with exit code {done.code}.")
            return "failure"
        return "success" if files_ok else "failure"

    def _file_commands(self) -> dict[str, Path]:
        directory = self.temp / "_runner_file_commands"
        directory.mkdir(exist_ok=True)
        suffix = uuid.uuid4()
        files = {
            name: directory / f"{prefix}_{suffix}"
            for name, prefix in (
                ("output", "set_output"),
                ("env", "set_env"),
                ("path", "add_path"),
                ("step_summary", "step_summary"),
                ("state", "save_state"),
            )
        }
        for path in files.values():
            path.write_bytes(b"")
        return files

    def _process_env(self, step: _StepRun, files: Mapping[str, Path]) -> dict[str, str]:
        env = {**self.runner.base_env, "CI": "true", **self.env, **step.frame.env, **step.env}
        env["PATH"] = os.pathsep.join([*reversed(self.prepend_path), env.get("PATH", os.defpath)])
        env["HOME"] = str(self.home)
        github = {**step.scope.contexts["github"], **{k: str(v) for k, v in files.items()}}
        env.update(_github_env(github, self))
        return env

    def _apply_file_commands(self, step: _StepRun, files: Mapping[str, Path]) -> bool:
        """Read GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY after the step;
        False when one was malformed, which fails the step."""
        try:
            step.outputs.update(parse_env_file(_read(files["output"])))
            for key, value in parse_env_file(_read(files["env"])):
                if key.upper() == "NODE_OPTIONS":
                    step.log.annotate(
                        "error", f"Can't store {key} output parameter using '$GITHUB_ENV' command."
                    )
                else:
                    self.env[key] = value
        except _StepFailed as error:
            step.log.annotate("error", "Unable to process file command successfully.")
            step.log.annotate("error", str(error))
            return False
        for line in _read(files["path"]).splitlines():
            if line:
                self.prepend(line)
        step.summary += self._summary(files["step_summary"], step.log)
        return True

    def prepend(self, directory: str) -> None:
        """GITHUB_PATH: the latest directory added comes first on PATH."""
        if directory in self.prepend_path:
            self.prepend_path.remove(directory)
        self.prepend_path.append(directory)

    def _summary(self, path: Path, log: _StepLog) -> str:
        size = path.stat().st_size if path.exists() else 0
        if size == 0:
            return ""
        if size > SUMMARY_LIMIT:
            log.annotate(
                "error",
                f"$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of "
                f"{SUMMARY_LIMIT // 1024}k, got {size // 1024}k. For more information see: "
                "https://docs.github.com/actions/using-workflows/workflow-commands-for-github-"
                "actions#adding-a-markdown-summary",
            )
            return ""
        text = _read(path)
        lines = re.split(r"\r\n|\r|\n", text)
        if text.endswith(("\n", "\r")):
            lines.pop()
        # The runner copies the file line by line, masking each, every line ending in "\n".
        return "".join(self.state.masker(line) + "\n" for line in lines)

    # ---- uses: steps

    def _uses(self, step: _StepRun) -> str:
        uses = render_str(step.spec["uses"], step.scope, "uses")
        with_ = {
            str(k): render_str(v, step.scope, f"with.{k}")
            for k, v in (step.spec.get("with") or {}).items()
        }
        target, _, ref = uses.partition("@")
        if target.startswith("./"):
            return self._local_action(step, self.workspace / target[2:], uses, with_)
        if target.lower() in _BUILTIN_ACTIONS:
            _Builtins(self, step, with_, ref).run(target.lower())
            return "success"
        owner, _, rest = target.partition("/")
        repo, _, subpath = rest.partition("/")
        root = self.runner.actions.get(f"{owner}/{repo}".lower())
        if root is not None and not uses.startswith("docker://"):
            return self._local_action(step, root / subpath, uses, with_)
        return self._mock(step, uses, with_)

    def _mock(self, step: _StepRun, uses: str, with_: dict[str, str]) -> str:
        self.state.mocked.append(MockedAction(uses, with_, self.leg.name, step.name))
        step.log.info(f"(mocked: {uses} only runs on GitHub)")
        return "success"

    def _local_action(
        self, step: _StepRun, directory: Path, uses: str, with_: dict[str, str]
    ) -> str:
        manifest = next(
            (directory / n for n in ("action.yml", "action.yaml") if (directory / n).is_file()),
            None,
        )
        if manifest is None:
            raise _StepFailed(f"Can't find 'action.yml' or 'action.yaml' under '{directory}'.")
        action = load_yaml(manifest) or {}
        if (action.get("runs") or {}).get("using") != "composite":
            return self._mock(step, uses, with_)
        return self._composite(step, directory, action, with_)

    def _composite(
        self,
        step: _StepRun,
        directory: Path,
        action: Mapping[str, Value],
        with_: dict[str, str],
    ) -> str:
        specs = action.get("inputs") or {}
        unexpected = sorted(set(with_) - set(specs))
        if unexpected:
            step.log.annotate(
                "warning", f"Unexpected input(s) {unexpected}, valid inputs are {sorted(specs)}"
            )
        inputs = {
            name: with_[name]
            if name in with_
            else render_str((spec or {}).get("default", ""), step.scope, f"inputs.{name}")
            for name, spec in specs.items()
        }
        frame = _Frame({}, inputs, str(directory), "success", {**step.frame.env, **step.env}, step)
        cancelled = False
        for inner in action["runs"].get("steps") or []:
            result = self._step(frame, inner)
            cancelled = cancelled or result.outcome == "cancelled"
            step.log.lines.append(f"##[group]{result.name}: {result.conclusion}")
            step.log.lines.extend(result.log.split("\n") if result.log else [])
            step.log.lines.append("##[endgroup]")
            step.summary += result.summary
        out_scope = self._scope(frame, {**self.env, **frame.env})
        for name, spec in (action.get("outputs") or {}).items():
            step.outputs[str(name)] = render_str(
                (spec or {}).get("value", ""), out_scope, f"outputs.{name}"
            )
        return "cancelled" if cancelled else frame.action_status or "success"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _machine_dir(workdir: Path, state: _RunState, job_id: str) -> Path:
    base = workdir / "runs" / f"{state.run_id}-{state.attempt}"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)
    return next(c for n in itertools.count(1) if not (c := base / f"{n:02d}-{safe}").exists())


def _github_env(github: Mapping[str, Value], job: _JobRun) -> dict[str, str]:
    """The GITHUB_* and RUNNER_* variables; they override any workflow `env:` of that name."""
    names = {
        "action": "GITHUB_ACTION",
        "actor": "GITHUB_ACTOR",
        "api_url": "GITHUB_API_URL",
        "base_ref": "GITHUB_BASE_REF",
        "env": "GITHUB_ENV",
        "event_name": "GITHUB_EVENT_NAME",
        "event_path": "GITHUB_EVENT_PATH",
        "graphql_url": "GITHUB_GRAPHQL_URL",
        "head_ref": "GITHUB_HEAD_REF",
        "job": "GITHUB_JOB",
        "output": "GITHUB_OUTPUT",
        "path": "GITHUB_PATH",
        "ref": "GITHUB_REF",
        "ref_name": "GITHUB_REF_NAME",
        "ref_type": "GITHUB_REF_TYPE",
        "repository": "GITHUB_REPOSITORY",
        "repository_owner": "GITHUB_REPOSITORY_OWNER",
        "retention_days": "GITHUB_RETENTION_DAYS",
        "run_attempt": "GITHUB_RUN_ATTEMPT",
        "run_id": "GITHUB_RUN_ID",
        "run_number": "GITHUB_RUN_NUMBER",
        "server_url": "GITHUB_SERVER_URL",
        "sha": "GITHUB_SHA",
        "state": "GITHUB_STATE",
        "step_summary": "GITHUB_STEP_SUMMARY",
        "triggering_actor": "GITHUB_TRIGGERING_ACTOR",
        "workflow": "GITHUB_WORKFLOW",
        "workflow_ref": "GITHUB_WORKFLOW_REF",
        "workflow_sha": "GITHUB_WORKFLOW_SHA",
        "workspace": "GITHUB_WORKSPACE",
    }
    env = {var: to_str(github.get(key)) for key, var in names.items()}
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_REF_PROTECTED="false",
        RUNNER_OS="Linux",
        RUNNER_ARCH="X64",
        RUNNER_NAME="GitHub Actions 1",
        RUNNER_ENVIRONMENT="github-hosted",
        RUNNER_TEMP=str(job.temp),
        RUNNER_TOOL_CACHE=str(job.tool_cache),
        RUNNER_WORKSPACE=str(job.workspace.parent),
    )
    if github.get("action_path"):
        env["GITHUB_ACTION_PATH"] = to_str(github["action_path"])
    return env


# ---------------------------------------------------------------------------------------------
# Emulated actions


class _Builtins:
    """actions/checkout, setup-python, upload/download-artifact and cache, by their contracts.
    A method raising _StepFailed fails the step with that message as its error."""

    def __init__(self, job: _JobRun, step: _StepRun, with_: dict[str, str], ref: str) -> None:
        self.job, self.step, self.with_, self.ref = job, step, with_, ref

    def run(self, action: str) -> None:
        {
            "actions/checkout": self.checkout,
            "actions/setup-python": self.setup_python,
            "actions/upload-artifact": self.upload_artifact,
            "actions/download-artifact": self.download_artifact,
            "actions/cache": self.cache,
            "actions/cache/restore": self.cache_restore,
            "actions/cache/save": self.cache_save,
        }[action]()

    # ---- inputs, as @actions/core reads them

    def input(self, name: str, default: str = "") -> str:
        return self.with_.get(name, "").strip() or default

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in self.with_.get(name, "").split("\n") if line.strip()]

    def flag(self, name: str) -> bool:
        value = self.input(name, "false")
        if value in ("true", "True", "TRUE"):
            return True
        if value in ("false", "False", "FALSE"):
            return False
        raise _StepFailed(
            f'Input does not meet YAML 1.2 "Core Schema" specification: {name}\n'
            "Support boolean input list: `true | True | TRUE | false | False | FALSE`"
        )

    def major(self) -> int:
        """The action's major version from `@vN...`; a SHA or branch counts as the newest."""
        match = re.fullmatch(r"v(\d+)(?:\.\d+)*", self.ref)
        return int(match.group(1)) if match else 1_000

    def path_input(self, name: str) -> Path:
        raw = self.input(name)
        if raw.startswith("~"):
            raw = str(self.job.home) + raw[1:]
        return self.job.workspace / raw if raw else self.job.workspace

    # ---- checkout

    def checkout(self) -> None:
        repository = self.input("repository", self.job.runner.repository)
        if repository.lower() == self.job.runner.repository.lower():
            source = self.job.runner.source
        else:
            mapped = self.job.runner.actions.get(repository.lower())
            if mapped is None:
                raise _StepFailed(f"checkout: map {repository} in `actions=` to check it out")
            source = mapped
        target = self.path_input("path")
        if target.exists():  # clean: true
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for relative in self.job.runner.source_files(source):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / relative, target / relative, follow_symlinks=False)
        self.step.log.info(f"Checked out {repository} into {target}")

    # ---- setup-python

    def setup_python(self) -> None:
        requested = self.input("python-version")
        version_file = self.input("python-version-file")
        if not requested and version_file:
            requested = _read(self.job.workspace / version_file).strip().split("\n")[0]
        self.job.python_versions.append(requested)
        actual = ".".join(str(part) for part in sys.version_info[:3])
        wanted = [p for p in requested.split(".") if p not in ("x", "*", "")]
        if wanted != actual.split(".")[: len(wanted)]:
            self.step.log.annotate(
                "warning", f"setup-python {requested} is emulated with this interpreter, {actual}"
            )
        venv = self._python_env()
        self.job.prepend(str(venv / "bin"))
        self.job.env.update(
            pythonLocation=str(venv),
            Python_ROOT_DIR=str(venv),
            Python2_ROOT_DIR=str(venv),
            Python3_ROOT_DIR=str(venv),
            PKG_CONFIG_PATH=str(venv / "lib" / "pkgconfig"),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_BUILD_ISOLATION="1",
        )
        self.step.outputs.update(
            {
                "python-version": actual,
                "python-path": str(venv / "bin" / "python"),
                "cache-hit": "false",
            }
        )

    def _python_env(self) -> Path:
        """A fresh venv per job, as each GitHub job starts from a clean tool cache: what one
        job pip-installs must not show up in the next. Created in ~40 ms: no pip inside (the
        test environment's pip runs), site-packages extended by the test environment's (which
        `--system-site-packages` alone skips when the tests run from a venv), so that
        `pip install .` finds setuptools and every dependency offline."""
        venv = self.job.tool_cache / "Python" / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
            check=True,
            capture_output=True,
        )
        short = f"{sys.version_info[0]}.{sys.version_info[1]}"
        site_packages = venv / "lib" / f"python{short}" / "site-packages"
        test_paths = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
        # Plain path lines: the test environment's own .pth files (an editable install of this
        # very project among them) stay inactive, so a job imports what it installed itself.
        (site_packages / "_gha_runner_test_env.pth").write_text("\n".join(test_paths) + "\n")
        for name in ("pip", "pip3", f"pip{short}"):
            script = venv / "bin" / name
            script.write_text(
                f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                "from pip._internal.cli.main import main\nsys.exit(main())\n"
            )
            script.chmod(0o755)
        return venv

    # ---- artifacts

    def upload_artifact(self) -> None:
        name = self.input("name", "artifact")
        bad = sorted(set(name) & set('":<>|*?\r\n\\/'))
        if bad:
            raise _StepFailed(f"The artifact name is not valid: {name}. Contains {bad}")
        if not self.lines("path"):
            raise _StepFailed("Input required and not supplied: path")
        files, root = self._upload_files()
        if not files:
            self._no_files()
            return
        artifact = self.job.state.artifacts.upload(
            name,
            [(Path(f), os.path.relpath(f, root)) for f in files],
            attempt=self.job.state.attempt,
            job=self.job.leg.name,
            overwrite=self.flag("overwrite"),
        )
        self.step.log.info(f"Artifact {name} has been successfully uploaded ({len(files)} files)")
        self.step.outputs.update(
            {
                "artifact-id": str(artifact.id),
                "artifact-digest": artifact.digest,
                "artifact-url": f"https://github.com/{self.job.runner.repository}/actions/runs/"
                f"{self.job.state.run_id}/artifacts/{artifact.id}",
            }
        )

    def _upload_files(self) -> tuple[list[str], str]:
        """The files and the root they are stored relative to: the least common ancestor of
        the search paths, or a lone file's directory."""
        files, roots = glob_files(
            self.lines("path"),
            self.job.workspace,
            self.job.home,
            include_hidden=self.flag("include-hidden-files"),
        )
        if len(roots) > 1:
            return files, os.path.commonpath(roots)
        if len(files) == 1 and roots and files[0] == roots[0]:
            return files, str(Path(files[0]).parent)
        return files, roots[0] if roots else str(self.job.workspace)

    def _no_files(self) -> None:
        mode = self.input("if-no-files-found", "warn")
        message = (
            f"No files were found with the provided path: {self.with_.get('path', '')}. "
            "No artifacts will be uploaded."
        )
        if mode == "error":
            raise _StepFailed(message)
        if mode == "warn":
            self.step.log.annotate("warning", message)
        elif mode != "ignore":
            raise _StepFailed(f"Unrecognized if-no-files-found input. Provided: {mode}")

    def download_artifact(self) -> None:
        name, pattern = self.input("name"), self.input("pattern")
        target = self.path_input("path")
        available = self.job.state.artifacts.latest()
        if name:
            if name not in available:
                raise _StepFailed(f"Unable to download artifact(s): Artifact '{name}' not found")
            chosen = [available[name]]
        else:
            chosen = [
                artifact
                for key, artifact in sorted(available.items())
                if not pattern or fnmatch.fnmatchcase(key, pattern)
            ]
        # Since v5, a pattern (or none) that matches a single artifact extracts it straight
        # into `path`, like a download by name.
        flat = bool(name) or self.flag("merge-multiple") or (len(chosen) == 1 and self.major() >= 5)
        for artifact in chosen:
            _extract(artifact.path, target if flat else target / artifact.name)
        target.mkdir(parents=True, exist_ok=True)
        self.step.log.info(f"Total of {len(chosen)} artifact(s) downloaded")
        self.step.outputs["download-path"] = str(target)

    # ---- cache

    def _cache_inputs(self) -> tuple[str, list[str], str]:
        key = self.input("key")
        if not key:
            raise _StepFailed("Input required and not supplied: key")
        if not self.lines("path"):
            raise _StepFailed("Input required and not supplied: path")
        restore_keys = self.lines("restore-keys")
        for candidate in (key, *restore_keys):
            if len(candidate) > 512:
                raise _StepFailed(
                    f"Key Validation Error: {candidate} cannot be larger than 512 characters."
                )
            if "," in candidate:
                raise _StepFailed(f"Key Validation Error: {candidate} cannot contain commas.")
        return key, restore_keys, cache_version(self.with_["path"])

    def _restore(self) -> tuple[str, CacheEntry | None]:
        key, restore_keys, version = self._cache_inputs()
        entry = self.job.state.cache.find(
            [key, *restore_keys], version, self.job.scheduler.info.cache_scopes
        )
        if entry is None:
            if self.flag("fail-on-cache-miss"):
                raise _StepFailed(
                    "Failed to restore cache entry. Exiting as fail-on-cache-miss "
                    f"is set. Input key: {key}"
                )
            self.step.log.info(f"Cache not found for input keys: {', '.join([key, *restore_keys])}")
            return key, None  # cache-hit stays unset on a miss (actions/cache#1466)
        if not self.flag("lookup-only"):
            _restore_cache(entry.path, self.job.workspace)
        self.step.outputs["cache-hit"] = str(entry.key.lower() == key.lower()).lower()
        self.step.log.info(f"Cache restored from key: {entry.key}")
        return key, entry

    def cache_restore(self) -> None:
        key, entry = self._restore()
        self.step.outputs["cache-primary-key"] = key
        if entry is not None:
            self.step.outputs["cache-matched-key"] = entry.key

    def cache(self) -> None:
        """Restore now; save in a post step (post-if: success()) unless the key hit exactly."""
        key, entry = self._restore()
        _, _, version = self._cache_inputs()
        paths = self.lines("path")
        hit = entry is not None and entry.key.lower() == key.lower()

        def post() -> str:
            if hit:
                return f"Cache hit occurred on the primary key {key}, not saving cache."
            return self._save(key, version, paths)

        self.job.post_steps.append((f"Post {self.step.name}", post))

    def cache_save(self) -> None:
        key, _, version = self._cache_inputs()
        message = self._save(key, version, self.lines("path"))
        self.step.log.info(message)
        if not message.startswith("Cache saved"):
            self.step.log.annotate("warning", "Cache save failed.")

    def _save(self, key: str, version: str, paths: list[str]) -> str:
        files, _ = glob_files(paths, self.job.workspace, self.job.home)
        if not files:
            return (
                "[warning]Path Validation Error: Path(s) specified in the action for caching "
                "do(es) not exist, hence no cache is being saved."
            )
        stored = {_cache_name(os.path.relpath(f, self.job.workspace)): Path(f) for f in files}
        if not self.job.state.cache.save(key, version, self.job.scheduler.info.save_scope, stored):
            return (
                f"[warning]Failed to save: Unable to reserve cache with key {key}, another "
                "job may be creating this cache."
            )
        return f"Cache saved with key: {key}"


def _cache_name(relative: str) -> str:
    """Cache archives hold paths relative to the workspace, `..` included (for ~/.cache and
    the like); stored under a name that stays inside the entry's directory."""
    return "/".join("%2E%2E" if part == ".." else part for part in Path(relative).parts)


def _restore_cache(source: Path, workspace: Path) -> None:
    for origin in sorted(source.rglob("*")):
        if origin.is_file():
            relative = str(origin.relative_to(source)).replace("%2E%2E", "..")
            destination = Path(os.path.normpath(workspace / relative))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)


def _extract(source: Path, target: Path) -> None:
    """Unpack an artifact as its zip unpacks: files 0644 and directories 0755 (the README
    warns that the executable bit is lost)."""
    target.mkdir(parents=True, exist_ok=True)
    for origin in sorted(source.rglob("*")):
        destination = target / origin.relative_to(source)
        if origin.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            destination.chmod(0o755)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, destination)
            destination.chmod(0o644)
