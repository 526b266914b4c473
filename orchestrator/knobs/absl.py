"""absl: `flags.DEFINE_integer("num_epochs", 20, "help")` is `--num_epochs`; and
`config_flags.DEFINE_config_file("config", "configs/default.py")` makes every field the
config file's `get_config()` sets a flag `--config.num_epochs`."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, underscored
from orchestrator.knobs.syntax import Param, calls, qualified, text, top_level_functions

SOURCE = "absl flags"
_DEFINES = {
    "DEFINE_integer",
    "DEFINE_string",
    "DEFINE_float",
    "DEFINE_enum",
    "DEFINE_bool",
    "DEFINE_boolean",
}


def detect(context: Context) -> Found:
    found = Found()
    for call in calls(context.tree):
        function = qualified(call.func, context.imports) or ""
        if not function.startswith(("absl.", "ml_collections.")) or len(call.args) < 2:
            continue
        name = text(call.args[0])
        short = function.rsplit(".", 1)[-1]
        if name is None:
            continue
        if short in _DEFINES:
            help_text = text(call.args[2]) if len(call.args) > 2 else None
            add_params(found, [Param(name, call.args[1], None, help_text)], underscored, SOURCE)
        elif short == "DEFINE_config_file":
            _config_file(found, context, name, text(call.args[1]))
    return found


def _config_file(found: Found, context: Context, flag: str, default: str | None) -> None:
    """The fields an ml_collections config file's `get_config()` assigns."""
    source = context.read(context.directory / default) if default else None
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # as for a script
        tree = None
    function = top_level_functions(tree).get("get_config") if isinstance(tree, ast.Module) else None
    if function is None:
        for knob in ("epochs", "seed"):
            found.note(knob, f"--{flag}: its config file is chosen at run time")
        return
    params = [
        Param(_dotted(target), stmt.value, None)
        for stmt in ast.walk(function)
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
        if isinstance(target, ast.Attribute) and _dotted(target)
    ]
    add_params(found, params, lambda name: f"--{flag}.{name}", f"ml_collections --{flag}")


def _dotted(target: ast.Attribute) -> str:
    """`config.train.num_epochs` → `train.num_epochs` (the config object's own name dropped)."""
    parts: list[str] = []
    node: ast.expr = target
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join(reversed(parts)) if isinstance(node, ast.Name) else ""
