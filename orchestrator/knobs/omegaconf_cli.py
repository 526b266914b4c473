"""`OmegaConf.merge(OmegaConf.load("config.yaml"), OmegaConf.from_cli())`: the keys of the
loaded file (or of a structured dataclass) are set with `key=value` pairs."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.config_tree import add_keys, flatten
from orchestrator.knobs.syntax import called, calls, classes, fields

SOURCE = "OmegaConf from_cli"


def detect(context: Context) -> Found:
    found = Found()
    every = list(calls(context.tree))
    if not any(called(c, context.imports, "OmegaConf.from_cli") for c in every):
        return found
    keys: dict[str, object] = {}
    for call in every:
        if called(call, context.imports, "OmegaConf.load") and call.args:
            for name in _yaml_names(call.args[0]):
                keys.update(flatten(context.read_yaml(context.directory / name)))
        elif called(call, context.imports, "OmegaConf.structured") and call.args:
            keys.update(_structured(call.args[0], context))
    add_keys(found, keys, SOURCE)
    return found


def _yaml_names(node: ast.expr) -> list[str]:
    """`"config.yaml"`, `Path(__file__).parent / "config.yaml"`: the literal file names."""
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value.endswith((".yaml", ".yml"))
    ]


def _structured(node: ast.expr, context: Context) -> dict[str, object]:
    target = node.func if isinstance(node, ast.Call) else node
    cls = classes(context.tree).get(target.id) if isinstance(target, ast.Name) else None
    if cls is None:
        return {}
    return {f.name: f.default for f in fields(cls)}
