"""`jsonargparse.CLI(fit)` (or `auto_cli`) over one function: parameters with a default are
`--name` options, spelled as written; those without are positional."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, underscored
from orchestrator.knobs.syntax import called, calls, parameters, top_level_functions

SOURCE = "jsonargparse CLI"


def detect(context: Context) -> Found:
    found = Found()
    cli = next(
        (
            c
            for c in calls(context.tree)
            if called(c, context.imports, "jsonargparse.CLI", "jsonargparse.auto_cli")
        ),
        None,
    )
    if cli is None or not cli.args or not isinstance(cli.args[0], ast.Name):
        return found
    function = top_level_functions(context.tree).get(cli.args[0].id)
    if function is None:
        for knob in ("epochs", "output_dir", "seed"):
            found.note(knob, "jsonargparse CLI over a class or several functions: subcommands")
        return found
    add_params(found, [p for p in parameters(function) if p.has_default], underscored, SOURCE)
    return found
