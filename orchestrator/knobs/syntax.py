"""Reading a script's syntax tree the way the detectors need: what a name was imported as,
literal values, a function's parameters, a dataclass's fields. Nothing is evaluated."""

from __future__ import annotations

import ast
from collections.abc import Iterator

#: Stands for a value that is there but not a literal (`Path("out")`, `os.environ[...]`).
UNKNOWN = object()


def imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name → what it was imported as: `np` → `numpy`, `CLI` → `jsonargparse.CLI`."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def qualified(node: ast.expr, imports: dict[str, str]) -> str | None:
    """`hydra.main` for `hydra.main`, `main` imported from hydra, or an alias of either."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    head = imports.get(node.id, node.id)
    return ".".join([head, *reversed(parts)])


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def called(call: ast.Call, imports: dict[str, str], *names: str) -> bool:
    """Whether the call's function is one of `names` (qualified) or ends like one."""
    name = qualified(call.func, imports)
    return name is not None and any(name == n or name.endswith("." + n) for n in names)


def literal(node: ast.expr | None) -> object:
    """A constant's value, else `UNKNOWN` (None stays None: no node, no default)."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def text(node: ast.expr | None) -> str | None:
    value = literal(node)
    return value if isinstance(value, str) else None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def top_level_functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


class Param:
    """A function parameter or dataclass field: its name, default, annotation and help."""

    __slots__ = ("annotation", "default", "has_default", "help", "name", "node")

    def __init__(
        self,
        name: str,
        default: ast.expr | None,
        annotation: ast.expr | None,
        help_text: str | None = None,
    ) -> None:
        self.name = name
        self.node = default
        self.has_default = default is not None
        self.default = literal(default)
        self.annotation = annotation
        self.help = help_text

    @property
    def is_int(self) -> bool | None:
        """From the annotation where there is one, else from the default."""
        if isinstance(self.annotation, ast.Name) and self.annotation.id in {"int", "str", "float"}:
            return self.annotation.id == "int"
        return None


def parameters(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Param]:
    """Named parameters (positional-only ones cannot be set by name), with docstring help."""
    args = func.args
    positional = [*args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    docs = docstring_args(func)
    params = [
        Param(a.arg, d, a.annotation, docs.get(a.arg))
        for a, d in zip(positional, defaults, strict=True)
        if a.arg not in {"self", "cls"}
    ]
    params += [
        Param(a.arg, d, a.annotation, docs.get(a.arg))
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return params


def docstring_args(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> dict[str, str]:
    """`name: text` lines of a Google-style `Args:` section."""
    doc = ast.get_docstring(node) or ""
    found: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in {"Args:", "Arguments:", "Parameters:"}:
            in_args = True
        elif in_args and ":" in stripped:
            name, _, rest = stripped.partition(":")
            if name.isidentifier():
                found[name] = rest.strip()
        elif in_args and not stripped:
            continue
    return found


def is_dataclass(node: ast.ClassDef, imports: dict[str, str]) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (qualified(target, imports) or "").endswith("dataclass"):
            return True
    return False


def fields(node: ast.ClassDef) -> list[Param]:
    """A dataclass's fields, with `field(default=..., metadata={"help": ...})` read, and an
    attribute docstring (a string right after the field, as tyro reads it) as help."""
    found: list[Param] = []
    body = node.body
    for index, stmt in enumerate(body):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        default, help_text = _field_default(stmt.value)
        after = body[index + 1] if index + 1 < len(body) else None
        if help_text is None and isinstance(after, ast.Expr):
            help_text = text(after.value)
        found.append(Param(stmt.target.id, default, stmt.annotation, help_text))
    return found


def _field_default(value: ast.expr | None) -> tuple[ast.expr | None, str | None]:
    """`field(default=3, metadata={"help": "..."})` → (3, "..."); a plain value → (it, None)."""
    if not (isinstance(value, ast.Call) and (qualified(value.func, {}) or "").endswith("field")):
        return value, None
    default = keyword(value, "default") or keyword(value, "default_factory")
    metadata = literal(keyword(value, "metadata"))
    help_text = metadata.get("help") if isinstance(metadata, dict) else None
    return default, help_text if isinstance(help_text, str) else None


def start_indexes(tree: ast.AST) -> set[str]:
    """Attribute names used as `range(x.name, ...)`'s start: a start index, not a count."""
    return {
        call.args[0].attr
        for call in calls(tree)
        if isinstance(call.func, ast.Name)
        and call.func.id == "range"
        and len(call.args) >= 2
        and isinstance(call.args[0], ast.Attribute)
    }
