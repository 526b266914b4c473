"""`@hydra.main(config_path=..., config_name=...)`: the config is composed from the YAML
files under `config_path` (the primary config and its defaults list), and set with
overrides `key=value` after the script: `trainer.max_epochs=3`, `hydra.run.dir=DIR`."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.config_tree import MAX_DEPTH as MAX_TREE_DEPTH
from orchestrator.knobs.config_tree import add_keys, flatten
from orchestrator.knobs.names import CERTAIN
from orchestrator.knobs.syntax import keyword, qualified, text

SOURCE = "hydra"
#: How deep defaults lists are followed (a group's config may have its own).
MAX_DEPTH = 4


def detect(context: Context) -> Found:
    found = Found()
    decorator = _hydra_main(context)
    if decorator is None:
        return found
    found.add("output_dir", "hydra.run.dir", "override", SOURCE, CERTAIN)
    config_path = text(_argument(decorator, "config_path", 0))
    config_name = text(_argument(decorator, "config_name", 1))
    if config_path is None or config_name is None or "://" in config_path:
        for knob in ("epochs", "seed"):
            found.note(knob, "hydra config not on disk beside the script")
        return found
    composer = _Composer(context, context.directory / config_path)
    composer.compose(composer.root, config_name, "", 0)
    add_keys(found, flatten(composer.tree), SOURCE, skip=("hydra.",))
    return found


def _hydra_main(context: Context) -> ast.Call | None:
    for node in ast.walk(context.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and qualified(
                    decorator.func, context.imports
                ) in {"hydra.main", "hydra.main.main"}:
                    return decorator
    return None


def _argument(call: ast.Call, name: str, position: int) -> ast.expr | None:
    found = keyword(call, name)
    if found is None and len(call.args) > position:
        return call.args[position]
    return found


class _Composer:
    """Hydra's composition, as far as keys go: a config's defaults first, then itself."""

    def __init__(self, context: Context, root: Path) -> None:
        self.context = context
        self.root = root
        self.tree: dict[str, object] = {}

    def compose(self, group_dir: Path, name: str, package: str, depth: int) -> None:
        """Merge config `name` (and its defaults first) into the tree at `package`."""
        path = group_dir / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
        data = self.context.read_yaml(path)
        if not isinstance(data, dict) or depth > MAX_DEPTH:
            return
        if (self.context.read(path) or b"").lstrip().startswith(b"# @package _global_"):
            package = ""
        defaults = data.get("defaults")
        for entry in defaults if isinstance(defaults, list) else []:
            self._default(group_dir, entry, package, depth)
        _merge_at(self.tree, package, {k: v for k, v in data.items() if k != "defaults"})

    def _default(self, group_dir: Path, entry: object, package: str, depth: int) -> None:
        if isinstance(entry, str) and entry != "_self_":
            self.compose(group_dir, entry.lstrip("/"), package, depth + 1)
        elif isinstance(entry, dict) and len(entry) == 1:
            ((group, option),) = entry.items()
            group = str(group).removeprefix("override ").removeprefix("optional ").strip("/")
            if isinstance(option, str) and "@" not in group:
                sub = ".".join(filter(None, [package, group.replace("/", ".")]))
                self.compose(self.root / group, option, sub, depth + 1)


def _merge_at(tree: dict[str, object], package: str, own: dict[str, object]) -> None:
    node = tree
    for part in filter(None, package.split(".")):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = child
    _deep_merge(node, own)


def _deep_merge(into: dict[str, object], new: dict[str, object], depth: int = 0) -> None:
    for key, value in new.items():
        held = into.get(key)
        if isinstance(held, dict) and isinstance(value, dict) and depth < MAX_TREE_DEPTH:
            _deep_merge(held, value, depth + 1)  # bounded: YAML anchors can make a cycle
        else:
            into[key] = value
