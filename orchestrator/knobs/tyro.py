"""`tyro.cli(Config)` over a dataclass, or `tyro.cli(main)` over a function: fields and
parameters are flags with dashes (`--num-epochs`); a nested dataclass's fields are dotted
(`--optimizer.weight-decay`). Help comes from attribute docstrings and `Args:` sections."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, dashed
from orchestrator.knobs.syntax import (
    called,
    calls,
    classes,
    fields,
    is_dataclass,
    parameters,
    top_level_functions,
)

SOURCE = "tyro"


def detect(context: Context) -> Found:
    found = Found()
    cli = next((c for c in calls(context.tree) if called(c, context.imports, "tyro.cli")), None)
    if cli is None or not cli.args or not isinstance(cli.args[0], ast.Name):
        return found
    name = cli.args[0].id
    local = classes(context.tree)
    if name in local and is_dataclass(local[name], context.imports):
        add_params(found, fields(local[name]), dashed, SOURCE)
    elif name in (functions := top_level_functions(context.tree)):
        add_params(found, parameters(functions[name]), dashed, SOURCE)
    return found
