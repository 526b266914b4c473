"""typer: `typer.run(main)`, or a `typer.Typer()` app with one `@app.command()`. A parameter
with a default (or an `Option`) is a flag with dashes (`n_epochs` → `--n-epochs`); one
without is a positional argument. An app with several commands needs the command's name."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, dashed
from orchestrator.knobs.syntax import (
    Param,
    called,
    calls,
    keyword,
    literal,
    parameters,
    text,
    top_level_functions,
)

SOURCE = "typer"


def detect(context: Context) -> Found:
    found = Found()
    function = _command(context, found)
    if function is not None:
        options = [
            option for p in parameters(function) if (option := _option(p, context)) is not None
        ]
        spellings = {param.name: spelling for param, spelling in options}
        add_params(found, [p for p, _ in options], spellings.__getitem__, SOURCE)
    return found


def _command(context: Context, found: Found) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    functions = top_level_functions(context.tree)
    run = next((c for c in calls(context.tree) if called(c, context.imports, "typer.run")), None)
    if run is not None and run.args and isinstance(run.args[0], ast.Name):
        return functions.get(run.args[0].id)
    commands = [f for f in functions.values() if _is_command(f, context)]
    if len(commands) == 1:
        return commands[0]
    if commands:
        for knob in ("epochs", "output_dir", "seed"):
            found.note(knob, f"typer app with {len(commands)} commands: name one in args_prefix")
    return None


def _is_command(function: ast.FunctionDef | ast.AsyncFunctionDef, context: Context) -> bool:
    return (
        any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr == "command"
            for d in function.decorator_list
        )
        and b"Typer(" in context.source
    )


def _option(param: Param, context: Context) -> tuple[Param, str] | None:
    """The parameter and its flag, or None for a positional argument."""
    marker = _typer_marker(param, context)
    if marker is None:
        return (param, dashed(param.name)) if param.has_default else None
    if called(marker, context.imports, "typer.Argument"):
        return None
    declared = [s for a in marker.args if (s := text(a)) is not None and s.startswith("-")]
    spelling = next((d for d in declared if d.startswith("--")), dashed(param.name))
    if marker is param.node:  # `= typer.Option(default, "--flag", ...)`
        first = (
            marker.args[0] if marker.args and marker.args[0] not in _flag_nodes(marker) else None
        )
        default = first or keyword(marker, "default")
    else:  # `Annotated[int, typer.Option(...)] = default`
        default = param.node
    if literal(default) is Ellipsis:
        default = None
    return Param(param.name, default, param.annotation, text(keyword(marker, "help"))), spelling


def _flag_nodes(marker: ast.Call) -> list[ast.expr]:
    return [a for a in marker.args if (s := text(a)) is not None and s.startswith("-")]


def _typer_marker(param: Param, context: Context) -> ast.Call | None:
    """`typer.Option(...)` / `typer.Argument(...)`, as the default or inside `Annotated`."""
    places = [param.node]
    annotation = param.annotation
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple):
        places += annotation.slice.elts[1:]
    for node in places:
        if isinstance(node, ast.Call) and called(
            node, context.imports, "typer.Option", "typer.Argument"
        ):
            return node
    return None
