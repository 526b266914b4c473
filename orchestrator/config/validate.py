"""The checks behind each config key: a raw YAML value in, the normalised value out.

Each takes the document, the key path and the raw value, and raises the document's
`ConfigError` naming that key's line when the value is refused.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable
from pathlib import PurePosixPath

from orchestrator.config.document import Document, KeyPath, Value
from orchestrator.errors import ConfigError, did_you_mean
from orchestrator.gates import parse_gate
from orchestrator.models import AUTO, STANDARD_FLAGS, Gate, Promote

# ---------------------------------------------------------------------------- validators
# Each takes the document, the key path and the raw value, and returns the normalised value.
Validator = Callable[[Document, KeyPath, Value], Value]


def type_name(value: Value) -> str:
    return "null" if value is None else type(value).__name__


def whole_number(minimum: int) -> Validator:
    def check(doc: Document, keys: KeyPath, value: Value) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise doc.error(keys, f"expected a whole number, got {type_name(value)} {value!r}")
        if value < minimum:
            raise doc.error(keys, f"must be at least {minimum}, got {value}")
        return value

    return check


def finite(doc: Document, keys: KeyPath, value: Value, meaning: str) -> float:
    """A number that means an amount: YAML's `.inf` and `.nan` are numbers too, and would
    mean no time limit at all, a wait of forever, or a crash once a run is under way."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(keys, f"expected {meaning}, got {type_name(value)} {value!r}")
    if not math.isfinite(value):
        raise doc.error(keys, f"expected a finite number, got {value}")
    return float(value)


def seconds(doc: Document, keys: KeyPath, value: Value) -> float:
    amount = finite(doc, keys, value, "a number of seconds")
    if amount < 0:
        raise doc.error(keys, f"must not be negative, got {value}")
    return amount


def positive_seconds(doc: Document, keys: KeyPath, value: Value) -> float:
    amount = seconds(doc, keys, value)
    if amount == 0:
        raise doc.error(keys, "must be more than 0 seconds")
    return amount


def factor(doc: Document, keys: KeyPath, value: Value) -> float:
    if finite(doc, keys, value, "a factor of at least 1") < 1:
        raise doc.error(keys, f"expected a factor of at least 1, got {value!r}")
    return float(value)


#: A size: a whole number of bytes, or a number with K, M, G or T after it (powers of
#: 1024, as Docker, Slurm and `ulimit` read them; `Gi`, `GB` and `GiB` say the same).
SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTkmgt](?:i?[Bb])?)?\s*$"
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int | None:
    """Bytes from `2G`, `512M`, `1.5GiB` or `1000000`; None if it is not a size."""
    found = re.match(SIZE_PATTERN, text)
    if found is None:
        return None
    unit = (found.group(2) or "")[:1].lower()
    return int(float(found.group(1)) * _SIZE_UNITS[unit])


def memory_size(doc: Document, keys: KeyPath, value: Value) -> int:
    """A memory amount in bytes: a whole number, or a string like `2G` (see SIZE_PATTERN)."""
    amount = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str):
        amount = parse_size(value)
    if amount is None:
        raise doc.error(keys, f"expected a size like 512M or 2G, got {type_name(value)} {value!r}")
    if amount < 1 << 20:
        raise doc.error(keys, f"must be at least 1M, got {value!r}")
    return amount


def or_auto(check: Validator) -> Validator:
    """`check`, or the word `auto`: the need is learned from the job's last measured run."""

    def either(doc: Document, keys: KeyPath, value: Value) -> Value:
        if value == AUTO:
            return AUTO
        try:
            return check(doc, keys, value)
        except ConfigError as refused:
            if not (isinstance(value, str) and value.strip().isalpha()):
                raise
            # `Auto`, `automatic`: a word where a number goes was most likely meant as auto.
            raise doc.error(keys, refused.message, "or auto, learned from its last run") from None

    return either


def one_of(*choices: str) -> Validator:
    def check(doc: Document, keys: KeyPath, value: Value) -> str:
        if value not in choices:
            near = did_you_mean(str(value), choices)
            listing = f"one of {', '.join(choices)}"
            raise doc.error(
                keys, f"unknown value {value!r}", f"{near} ({listing})" if near else listing
            )
        return str(value)

    return check


def one_or_more_of(*choices: str) -> Validator:
    one = one_of(*choices)

    def check(doc: Document, keys: KeyPath, value: Value) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(one(doc, (*keys, str(i)), item) for i, item in enumerate(items))

    return check


def gates(doc: Document, keys: KeyPath, value: Value) -> tuple[Gate, ...]:
    """`{accuracy: ">= 0.9", rmse: "<= 60"}`: parsed now so a typo fails before training."""
    if not isinstance(value, dict):
        raise doc.error(
            keys, f"expected a mapping like {{accuracy: '>= 0.9'}}, got {type_name(value)}"
        )
    parsed = []
    for metric, rule in value.items():
        try:
            gate = parse_gate(str(metric), str(rule))
        except ValueError as exc:
            raise doc.error((*keys, str(metric)), str(exc)) from None
        if not math.isfinite(gate.threshold):
            # `<= 1e999` reads as `<= inf`: a gate that no metric can fail.
            raise doc.error((*keys, str(metric)), f"the threshold of {rule!r} is not finite")
        parsed.append(gate)
    return tuple(parsed)


#: Ray's own resource names, and the job key that asks for each (None: Ray sets it).
RAY_RESERVED = {"CPU": "cpus", "GPU": "gpus", "memory": "memory", "object_store_memory": None}
#: Ray counts fractional resources in ten-thousandths and refuses anything finer.
RAY_STEPS = 10_000


def resources(doc: Document, keys: KeyPath, value: Value) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping of name: amount, got {type_name(value)}")
    return tuple(_resource(doc, (*keys, str(k)), v) for k, v in value.items())


def _resource(doc: Document, keys: KeyPath, value: Value) -> tuple[str, float]:
    """One custom Ray resource: Ray refuses its own names and amounts it cannot count."""
    name = keys[-1]
    if name in RAY_RESERVED:
        key = RAY_RESERVED[name]
        raise doc.error(keys, f"Ray's own resource: ask with {key}:" if key else "set by Ray")
    amount = finite(doc, keys, value, "an amount")
    if amount < 0:
        raise doc.error(keys, f"must not be negative, got {value}")
    if abs(amount * RAY_STEPS - round(amount * RAY_STEPS)) > 1e-6:
        raise doc.error(keys, f"Ray counts in steps of 0.0001, got {value}")
    return name, amount


def directions(doc: Document, keys: KeyPath, value: Value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping like {{rmse: lower}}, got {type_name(value)}")
    check = one_of("higher", "lower")
    return {str(k): check(doc, (*keys, str(k)), v) for k, v in value.items()}


def tolerances(doc: Document, keys: KeyPath, value: Value) -> dict[str, float]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping like {{rmse: 0.05}}, got {type_name(value)}")
    return {str(k): seconds(doc, (*keys, str(k)), v) for k, v in value.items()}


def resource_tolerances(*names: str) -> Validator:
    """A mapping from some of `names` (resources compare judges) to relative tolerances."""

    def check(doc: Document, keys: KeyPath, value: Value) -> dict[str, float]:
        if not isinstance(value, dict):
            raise doc.error(
                keys, f"expected a mapping like {{{names[0]}: 0.5}}, got {type_name(value)}"
            )
        for name in map(str, value):
            if name not in names:
                near = did_you_mean(name, names)
                listing = f"one of {', '.join(names)}"
                raise doc.error(
                    (*keys, name),
                    f"unknown resource {name!r}",
                    f"{near} ({listing})" if near else listing,
                )
        return {str(k): seconds(doc, (*keys, str(k)), v) for k, v in value.items()}

    return check


def boolean(doc: Document, keys: KeyPath, value: Value) -> bool:
    if not isinstance(value, bool):
        raise doc.error(keys, f"expected true or false, got {type_name(value)} {value!r}")
    return value


def text(doc: Document, keys: KeyPath, value: Value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(keys, f"expected a non-empty string, got {type_name(value)} {value!r}")
    return value


def scalar_text(doc: Document, keys: KeyPath, value: Value) -> str:
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
    raise doc.error(keys, f"expected a string or number, got {type_name(value)}")


def text_list(doc: Document, keys: KeyPath, value: Value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if not isinstance(value, list):
        raise doc.error(keys, f"expected a list of strings, got {type_name(value)}")
    return tuple(scalar_text(doc, (*keys, str(i)), item) for i, item in enumerate(value))


def text_set(doc: Document, keys: KeyPath, value: Value) -> tuple[str, ...]:
    """A list where a repeat means nothing more: `needs: [a, a]` once ran `a`'s dependent
    twice, and counted it twice in the summary."""
    return tuple(dict.fromkeys(text_list(doc, keys, value)))


def command(doc: Document, keys: KeyPath, value: Value) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            argv = tuple(shlex.split(value))
        except ValueError as exc:
            raise doc.error(keys, f"cannot split command: {exc}") from None
    else:
        argv = text_list(doc, keys, value)
    if not argv:
        raise doc.error(keys, "command is empty")
    if not argv[0].strip():
        # Would start nothing: every attempt fails with exit 127, after the jobs before it ran.
        where = keys if isinstance(value, str) else (*keys, "0")
        raise doc.error(where, f"the program name is empty, got {argv[0]!r}")
    return argv


def args(doc: Document, keys: KeyPath, value: Value) -> Value:
    """A list is passed verbatim; a mapping becomes flags (`{lr: 0.1}` → `--lr 0.1`)."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise doc.error(keys, f"cannot split args: {exc}") from None
    if isinstance(value, list):
        return text_list(doc, keys, value)
    if isinstance(value, dict):
        params: dict[str, Value] = {}
        for name, item in value.items():
            if isinstance(item, list):
                params[str(name)] = text_list(doc, (*keys, str(name)), item)
            elif isinstance(item, bool):
                params[str(name)] = item
            else:
                params[str(name)] = scalar_text(doc, (*keys, str(name)), item)
        return params
    raise doc.error(keys, f"expected a list or a mapping of flags, got {type_name(value)}")


def env(doc: Document, keys: KeyPath, value: Value) -> dict[str, str]:
    """`{NAME: value}`; a name the OS cannot set (empty, with `=` or NUL) fails here, not at
    start-up of every attempt."""
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping of NAME: value, got {type_name(value)}")
    for name in map(str, value):
        problem = _env_name_problem(name)
        if problem:
            raise doc.error((*keys, name), f"environment variable name {problem}")
    return {str(k): scalar_text(doc, (*keys, str(k)), v) for k, v in value.items()}


def _env_name_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    return next((f"contains {c!r}" for c in ("=", "\0") if c in name), None)


def flag_names(doc: Document, keys: KeyPath, value: Value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise doc.error(
            keys, f"expected a mapping like {{epochs: --num_train_epochs}}, got {type_name(value)}"
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


#: A model name is one directory under `models/`: no separators, no `.`/`..`, no dotfile.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def promote(doc: Document, keys: KeyPath, value: Value) -> Promote:
    """`{name: churn, artifact: model.joblib}`: checked now, so a promotion that would
    write outside the output root is refused before anything trains."""
    if not isinstance(value, dict):
        raise doc.error(
            keys,
            f"expected a mapping like {{name: churn, artifact: model.joblib}}, got "
            f"{type_name(value)}",
        )
    for name in value:
        if name not in ("name", "artifact"):
            raise doc.error(
                (*keys, str(name)), "unknown key", did_you_mean(str(name), ("name", "artifact"))
            )
    if "name" not in value:
        raise doc.error(keys, "missing 'name': the model's directory under models/")
    name = scalar_text(doc, (*keys, "name"), value["name"])
    if not re.match(MODEL_NAME_PATTERN, name):
        raise doc.error(
            (*keys, "name"),
            f"{name!r} is not a model name: letters, digits, '.', '_', '-', starting with a "
            "letter or digit",
        )
    artifact = text(doc, (*keys, "artifact"), value.get("artifact", "model.joblib"))
    problem = relative_path_problem(artifact)
    if problem:
        raise doc.error((*keys, "artifact"), f"{artifact!r} {problem}")
    return Promote(name, PurePosixPath(artifact).as_posix())


def relative_path_problem(path: str) -> str | None:
    """Why `path` may lead outside the dir it is relative to, or None."""
    pure = PurePosixPath(path)
    if "\x00" in path or not path.strip():
        return "is not a path"
    if pure.is_absolute() or path.startswith("~"):
        return "must be relative to the job's output dir"
    if ".." in pure.parts:
        return "must stay inside the job's output dir (no '..')"
    if pure.as_posix() == ".":
        return "names the output dir itself; name the model file or directory in it"
    return None
