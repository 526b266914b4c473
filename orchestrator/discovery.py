"""Find `train_*.py` scripts and read, from their source, which flags they accept.

Scripts are parsed with `ast`, never imported or run: importing a training script would pull
in its heavy libraries (and run its module-level code) just to list it.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import KNOB_NAMES, DiscoveredScript, Knob, Pairs

DEFAULT_ROOTS = ("training", "files/training", "scripts", "mlops/pipelines")
SCRIPT_PREFIX = "train_"
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "dist-packages"})
#: The calls whose literal arguments are flags: argparse, click, typer.
FLAG_CALLS = frozenset({"add_argument", "option", "Option"})
#: Finds the lines that name one; a longer name holding one (`options`) only adds a line.
_FLAG_CALL_NAME = re.compile(rb"add_argument|option|Option")


def discover(roots: Iterable[str], base: Path) -> tuple[tuple[DiscoveredScript, ...], list[str]]:
    """Scripts under `roots` (relative to `base`), with unique ids, plus warnings to show.

    A root that does not exist is passed over: the default roots are a list of conventions,
    and a project uses one or two of them.
    """
    found: list[tuple[str, Path]] = []
    for root in roots:
        root_path = base / root
        if root_path.is_dir():
            found.extend((root, path) for path in sorted(_walk(root_path)))
    return _assign_ids(found, base)


def _walk(root: Path) -> Iterator[Path]:
    """Yield candidate scripts, following symlinked dirs but never around a loop."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        stat = Path(dirpath).stat()
        if (stat.st_dev, stat.st_ino) in seen:
            dirnames.clear()
            continue
        seen.add((stat.st_dev, stat.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(Path(dirpath, d)))
        for name in filenames:
            if name.startswith(SCRIPT_PREFIX) and name.endswith(".py"):
                yield Path(dirpath, name)


def _skip_dir(path: Path) -> bool:
    name = path.name
    return (
        name.startswith(".")
        or name in SKIPPED_DIRS
        # Any virtualenv, whatever it is called, carries this marker.
        or (path / "pyvenv.cfg").exists()
    )


def _assign_ids(
    found: list[tuple[str, Path]], base: Path
) -> tuple[tuple[DiscoveredScript, ...], list[str]]:
    """Give each script its id; a clash keeps the first plain and qualifies the rest.

    Qualifying by directory (`prep@scripts`) keeps ids stable across runs and readable in
    logs, and drops nothing: both scripts run, and the warning says which is which.
    """
    scripts: list[DiscoveredScript] = []
    warnings: list[str] = []
    first_by_id: dict[str, str] = {}
    for _root, path in found:
        rel = _relative(path, base)
        job_id = path.stem[len(SCRIPT_PREFIX) :]
        if _unprintable(rel):
            scripts.append(_misnamed(rel, job_id))
            continue
        if job_id in first_by_id:
            qualified = f"{job_id}@{Path(rel).parent.as_posix().replace('/', '.')}"
            warnings.append(
                f"job id '{job_id}' is used by {first_by_id[job_id]} and {rel}; "
                f"the second runs as '{qualified}'"
            )
            job_id = qualified
        else:
            first_by_id[job_id] = rel
        scripts.append(inspect_script(path, job_id, rel))
    return tuple(scripts), warnings


#: A control character (C0, DEL, C1), or a byte that is not UTF-8 (os.fsdecode's escape).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def _unprintable(name: str) -> bool:
    return _UNPRINTABLE.search(name) is not None


def _misnamed(rel: str, job_id: str) -> DiscoveredScript:
    """A script whose file name is not printable text, listed and reported but not run.

    Its bytes went everywhere the id goes: a newline broke `--dry-run`'s comment line into a
    command of its own, an escape sequence reached the terminal, and a byte that is not
    UTF-8 crashed the run's reports after every job had run. Shown with each such
    character as `\\xNN`, so the message names the file a user has to rename.
    """
    printable = _escaped(rel)
    return DiscoveredScript(
        printable,
        _escaped(job_id),
        error=f"its file name is not printable text ({printable}); rename it",
    )


def _escaped(name: str) -> str:
    def code(found: re.Match[str]) -> str:
        char = ord(found.group())
        return f"\\x{char - 0xDC00 if char >= 0xDC80 else char:02x}"

    return _UNPRINTABLE.sub(code, name)


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def inspect_script(path: Path, job_id: str, display: str) -> DiscoveredScript:
    """Read the flags a script declares; a script that cannot be parsed says why."""
    try:
        source = path.read_bytes()
    except (OSError, ValueError) as exc:
        return DiscoveredScript(display, job_id, error=f"unreadable: {exc}")
    facts = _read_source(source, display, path.parent)
    return DiscoveredScript(
        display,
        job_id,
        flags=facts.flags,
        error=facts.error,
        knobs=facts.knobs,
        args_prefix=facts.args_prefix,
        knob_notes=facts.notes,
    )


@frozen_dataclass
class Facts:
    """What a script's source (and the config files beside it) say, or why it cannot run."""

    flags: tuple[str, ...] = ()
    error: str | None = None
    knobs: tuple[Knob, ...] = ()
    args_prefix: tuple[str, ...] = ()
    notes: Pairs = ()
    #: (path, digest or None where absent) of each config file the knobs were read from.
    deps: tuple[tuple[str, str | None], ...] = ()


#: The facts of each source this process read, by digest: a script is parsed once (merging
#: reads again every script a config names).
PARSED: dict[str, Facts] = {}
#: Facts an earlier run kept (see `discovery_cache`), taken as parsed for the same source.
KEPT: dict[str, Facts] = {}


def source_digest(source: bytes) -> str:
    return hashlib.blake2b(source, digest_size=16).hexdigest()


def _read_source(source: bytes, display: str, directory: Path) -> Facts:
    """A script's facts: parsing is most of what `--list` does, so a source is parsed only
    when neither this process nor an earlier run has (with the same config files beside
    it: the key holds the script's directory as shown, relative to the project, and the
    facts the digests of the files they were read from)."""
    key = source_digest(source + b"\0" + os.fsencode(PurePath(display).parent))
    facts = PARSED.get(key)
    if facts is None:
        kept = KEPT.get(key)
        if kept is None or not _unchanged(kept.deps):
            kept = _parse(source, display, directory)
        facts = PARSED[key] = kept
    return facts


def _unchanged(deps: tuple[tuple[str, str | None], ...]) -> bool:
    for path, digest in deps:
        try:
            now: str | None = source_digest(Path(path).read_bytes())
        except OSError:
            now = None
        if now != digest:
            return False
    return True


def _parse(source: bytes, display: str, directory: Path) -> Facts:
    try:
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        return Facts(error=f"syntax error, line {exc.lineno}: {exc.msg}")
    except ValueError as exc:
        return Facts(error=f"unreadable: {exc}")
    except (RecursionError, MemoryError):
        # CPython's parser gives up on an expression nested or chained some thousands
        # deep (`- - - … 1`, `a.a.a.….b`): Python could not run the script either.
        return Facts(error="nested too deeply for Python to parse")
    calls = flag_calls(tree, source)
    flags = _spellings(calls)
    if {canonical(flag) for flag in flags} >= set(KNOB_NAMES):
        return Facts(flags=flags)  # takes them all as they are: nothing to translate
    from orchestrator import knobs  # only here: most scripts never need the detectors

    found = knobs.detect(tree, source, directory, calls)
    return Facts(
        flags=flags,
        knobs=found.knobs,
        args_prefix=found.prefix,
        notes=found.notes,
        deps=found.deps,
    )


def declared_flags(tree: ast.AST, source: bytes | None = None) -> tuple[str, ...]:
    """Long flags declared via argparse `add_argument`, click `option` or typer `Option`.

    Only literal strings count: a flag computed at run time cannot be known without running
    the script, and passing a flag the script might reject is worse than not passing it.
    """
    return _spellings(flag_calls(tree, source))


def flag_calls(tree: ast.AST, source: bytes | None = None) -> list[ast.Call]:
    """The `add_argument`/`option`/`Option` calls, in source order. Given the `source` of the
    tree, only the statements that name such a call are walked."""
    roots = [tree] if source is None else _statements_naming_a_flag_call(tree, source)
    calls = [n for root in roots for n in ast.walk(root) if isinstance(n, ast.Call)]
    found = [n for n in calls if _call_name(n) in FLAG_CALLS]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _spellings(calls: list[ast.Call]) -> tuple[str, ...]:
    flags: dict[str, None] = {}  # ordered set: source order reads best in --list
    for node in calls:
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                for spelling in arg.value.split("/"):  # click's "--flag/--no-flag"
                    if spelling.strip().startswith("--"):
                        flags[spelling.strip()] = None
    return tuple(flags)


def _statements_naming_a_flag_call(tree: ast.AST, source: bytes) -> list[ast.AST]:
    """The top-level statements whose lines (decorators included) name a flag call.

    A call's name is written within its statement's lines, so the others hold none, and
    walking every node of a script costs as much as parsing it. Where the parser might
    count lines differently (a CR) or read a name written otherwise (non-ASCII: it folds
    identifiers to NFKC), the whole tree is walked.
    """
    if not isinstance(tree, ast.Module) or b"\r" in source or not source.isascii():
        return [tree]
    lines = {source.count(b"\n", 0, m.start()) + 1 for m in _FLAG_CALL_NAME.finditer(source)}
    return [stmt for stmt in tree.body if not lines.isdisjoint(_lines(stmt))]


def _lines(stmt: ast.stmt) -> range:
    """The lines a statement is written on; a function's or class's decorators come first."""
    decorators = getattr(stmt, "decorator_list", [])
    first = min([stmt.lineno, *(decorator.lineno for decorator in decorators)])
    return range(first, (stmt.end_lineno or stmt.lineno) + 1)


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def canonical(flag: str) -> str:
    """`--output-dir`, `--output_dir` and `--Output-Dir` all name the same setting."""
    return flag.lstrip("-").replace("-", "_").lower()
