"""What every detector is given (`Context`) and hands back (`Found`), and the one way
parameters of a function or fields of a dataclass become knobs (`add_params`)."""

from __future__ import annotations

import ast
import hashlib
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from orchestrator.knobs.names import Evidence, judge, lookup
from orchestrator.knobs.syntax import UNKNOWN, Param, imported_names, start_indexes
from orchestrator.models import Knob

#: Config files beside a script are read up to this size (a YAML tree, a config.py).
MAX_CONFIG_BYTES = 1 << 20
#: Parsed YAML by digest: a Hydra config tree shared by several scripts is parsed once.
_YAML: dict[str, object] = {}


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Context:
    """One script: its tree, source, directory and flag calls, and the files read beside it."""

    def __init__(
        self, tree: ast.Module, source: bytes, directory: Path, flag_calls: list[ast.Call]
    ) -> None:
        self.tree = tree
        self.source = source
        self.directory = directory
        self.flag_calls = flag_calls
        #: Each config file read, with its digest (None: absent): kept facts hold only
        #: while these are unchanged.
        self.deps: dict[str, str | None] = {}
        self._imports: dict[str, str] | None = None
        self._starts: set[str] | None = None

    @property
    def imports(self) -> dict[str, str]:
        if self._imports is None:
            self._imports = imported_names(self.tree)
        return self._imports

    @property
    def start_indexes(self) -> set[str]:
        if self._starts is None:
            self._starts = start_indexes(self.tree)
        return self._starts

    def read(self, path: Path) -> bytes | None:
        """A file beside the script, recorded as something its facts depend on."""
        data = _read_config(path)
        self.deps[str(path)] = None if data is None else digest(data)
        return data

    def read_yaml(self, path: Path) -> object:
        """A YAML file's content (None where absent or not YAML); each parsed once."""
        data = self.read(path)
        if data is None:
            return None
        key = digest(data)
        if key not in _YAML:
            import yaml  # only a script with a YAML config tree needs it

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            try:
                _YAML[key] = yaml.load(data, Loader=loader)
            except yaml.YAMLError:
                _YAML[key] = None
        return _YAML[key]


def _read_config(path: Path) -> bytes | None:
    """A regular file of at most MAX_CONFIG_BYTES: a config, not a data set or a device."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CONFIG_BYTES:
            return None
        with path.open("rb") as handle:
            return handle.read(MAX_CONFIG_BYTES + 1)[:MAX_CONFIG_BYTES]
    except (OSError, ValueError):
        return None


class Found:
    """A detector's answer: knobs (in the order it prefers them), why others are not, and
    what must precede every flag (a subcommand), if it knows."""

    __slots__ = ("knobs", "notes", "prefix")

    def __init__(self) -> None:
        self.knobs: list[Knob] = []
        self.notes: list[tuple[str, str]] = []
        self.prefix: tuple[str, ...] | None = None

    def add(self, name: str, spelling: str, style: str, source: str, confidence: str) -> None:
        self.knobs.append(Knob(name, spelling, style, source, confidence))

    def note(self, name: str, text: str) -> None:
        self.notes.append((name, text))


def add_params(
    found: Found,
    params: Iterable[Param],
    spell: Callable[[str], str],
    source: str,
    *,
    style: str = "flag",
) -> None:
    """Each parameter whose name means a knob, judged on its help, default and type."""
    for param in params:
        meaning = lookup(param.name)
        if meaning is None:
            continue
        knob, confidence = meaning
        default = None if param.default is UNKNOWN else param.default
        evidence = Evidence(param.help, default, is_int=param.is_int)
        judged, why = judge(knob, confidence, evidence)
        if judged is None:
            found.note(knob, f"{spell(param.name)}: {why}")
        else:
            found.add(knob, spell(param.name), style, source, judged)


def dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


def underscored(name: str) -> str:
    return "--" + name
