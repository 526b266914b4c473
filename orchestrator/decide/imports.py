"""The project's own modules a script imports, so editing one is a change to the job.

`python training/train_rf.py` puts `training/` first on `sys.path`: `import common` there
runs `training/common.py`. Fingerprinting the script alone left every job that shares such
a module `cached` after an edit to it, with the metrics of the code before the edit.
Found from the source with `ast`, never by importing; followed through the modules found
(their own imports, `from . import x` inside a package), within the script's directory.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

#: Modules followed from one script at most: a script's own helpers, not a vendored tree.
MAX_MODULES = 200
#: Larger files are not parsed for their own imports (still fingerprinted when imported).
MAX_PARSED_BYTES = 1 << 20


def local_modules(script: Path) -> tuple[Path, ...]:
    """The files under the script's directory that it imports, directly or through
    them, in a stable order; nothing it cannot read or parse."""
    root = script.parent
    found: dict[Path, None] = {}
    todo = [script]
    while todo and len(found) < MAX_MODULES:
        source = todo.pop()
        for module in _imported(source, root):
            if module not in found and module != script:
                found[module] = None
                todo.append(module)
    return tuple(sorted(found))


def _imported(source: Path, root: Path) -> Iterator[Path]:
    tree = _parse(source)
    if tree is None:
        return
    package = source.parent
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _files(root, alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            base = root if node.level == 0 else _up(package, node.level - 1)
            if base is None or not base.is_relative_to(root):
                continue
            parts = node.module.split(".") if node.module else []
            yield from _files(base, parts)
            for alias in node.names:  # `from pkg import mod`: a submodule, if it is one
                yield from _files(base, [*parts, alias.name])


def _up(package: Path, levels: int) -> Path | None:
    for _ in range(levels):
        if package.parent == package:
            return None
        package = package.parent
    return package


def _files(base: Path, parts: list[str]) -> Iterator[Path]:
    """`a.b.c` → `a/__init__.py`, `a/b/__init__.py`, and `a/b/c.py` or its package,
    as far as they exist: importing `a.b.c` runs each of them."""
    directory = base
    for index, part in enumerate(parts):
        if not part.isidentifier():
            return
        module = directory / f"{part}.py"
        if index == len(parts) - 1 and module.is_file():
            yield module
            return
        directory = directory / part
        init = directory / "__init__.py"
        if init.is_file():
            yield init
        elif not directory.is_dir():  # a namespace package has no __init__.py
            return


def _parse(path: Path) -> ast.AST | None:
    try:
        with path.open("rb") as handle:
            source = handle.read(MAX_PARSED_BYTES + 1)
        if len(source) > MAX_PARSED_BYTES:
            return None
        return ast.parse(source)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
