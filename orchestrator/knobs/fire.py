"""`fire.Fire(train)`: the function's parameters are flags spelled as written
(`--num_epochs`; fire also takes `--num-epochs`)."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, underscored
from orchestrator.knobs.syntax import called, calls, parameters, top_level_functions

SOURCE = "fire"


def detect(context: Context) -> Found:
    found = Found()
    fire = next((c for c in calls(context.tree) if called(c, context.imports, "fire.Fire")), None)
    if fire is None:
        return found
    target = fire.args[0] if fire.args else None
    function = (
        top_level_functions(context.tree).get(target.id) if isinstance(target, ast.Name) else None
    )
    if function is None:
        for knob in ("epochs", "output_dir", "seed"):
            found.note(knob, "fire.Fire over a class, dict or module: commands, not one function")
        return found
    add_params(found, parameters(function), underscored, SOURCE)
    return found
