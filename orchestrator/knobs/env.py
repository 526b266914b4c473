"""Knobs read from the environment: `os.environ.get("OUTPUT_DIR")`, `os.getenv(...)`,
`os.environ["SM_MODEL_DIR"]`; set in the job's env, not its argv."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.names import CERTAIN, ENV_OUTPUT_DIRS
from orchestrator.knobs.syntax import calls, qualified, text

ENV_KNOBS = {
    **dict.fromkeys(ENV_OUTPUT_DIRS, "output_dir"),
    "EPOCHS": "epochs",
    "NUM_EPOCHS": "epochs",
    "SEED": "seed",
    "RANDOM_SEED": "seed",
}


def detect(context: Context) -> Found:
    found = Found()
    for name in sorted(_read_variables(context)):
        knob = ENV_KNOBS.get(name)
        if knob is not None:
            found.add(knob, name, "env", ENV_OUTPUT_DIRS.get(name, "environment"), CERTAIN)
    return found


def _read_variables(context: Context) -> set[str]:
    names: set[str] = set()
    for call in calls(context.tree):
        function = qualified(call.func, context.imports) or ""
        if function in {"os.getenv", "os.environ.get"} and call.args:
            names.add(text(call.args[0]) or "")
    for node in ast.walk(context.tree):
        if (
            isinstance(node, ast.Subscript)
            and qualified(node.value, context.imports) == "os.environ"
            and isinstance(node.ctx, ast.Load)
        ):
            names.add(text(node.slice) or "")
    return names
