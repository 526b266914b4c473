"""Find `train_*.py` scripts and read, from their source, which flags they accept.

Scripts are parsed with `ast`, never imported or run: importing a training script would pull
in its heavy libraries (and run its module-level code) just to list it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from orchestrator.models import DiscoveredScript

DEFAULT_ROOTS = ("training", "files/training", "scripts", "mlops/pipelines")
SCRIPT_PREFIX = "train_"
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "dist-packages"})


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


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def inspect_script(path: Path, job_id: str, display: str) -> DiscoveredScript:
    """Read the flags a script declares; a script that cannot be parsed says why."""
    try:
        source = path.read_bytes()
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        return DiscoveredScript(
            display, job_id, error=f"syntax error, line {exc.lineno}: {exc.msg}"
        )
    except (OSError, ValueError) as exc:
        return DiscoveredScript(display, job_id, error=f"unreadable: {exc}")
    return DiscoveredScript(display, job_id, flags=declared_flags(tree))


def declared_flags(tree: ast.AST) -> tuple[str, ...]:
    """Long flags declared via argparse `add_argument`, click `option` or typer `Option`.

    Only literal strings count: a flag computed at run time cannot be known without running
    the script, and passing a flag the script might reject is worse than not passing it.
    """
    flags: dict[str, None] = {}  # ordered set: source order reads best in --list
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        if _call_name(node) in {"add_argument", "option", "Option"}:
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    for spelling in arg.value.split("/"):  # click's "--flag/--no-flag"
                        if spelling.strip().startswith("--"):
                            flags[spelling.strip()] = None
    return tuple(flags)


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
