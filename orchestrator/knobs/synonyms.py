"""argparse `add_argument` and click/typer `option` flags under other names than the
standard ones: `--num_epochs`, `--out_dir`, `--random_seed` (see `names.SYNONYMS`)."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.names import CERTAIN, ENV_OUTPUT_DIRS, Evidence, judge, lookup
from orchestrator.knobs.syntax import UNKNOWN, keyword, literal, qualified

SOURCE = "argparse synonym"


def detect(context: Context) -> Found:
    found = Found()
    for call in context.flag_calls:
        spellings = _long_spellings(call)
        if not spellings:
            continue
        flag = spellings[0]
        meaning = lookup(flag)
        if meaning is None or flag.lstrip("-").replace("-", "_").lower() in _STANDARD:
            continue  # the standard spellings are passed as declared
        knob, confidence = meaning
        evidence = _evidence(call, flag, context)
        judged, why = judge(knob, confidence, evidence)
        if judged is not None and knob == "output_dir" and _default_is_env_output(call):
            judged = CERTAIN  # its default is the platform's output dir: it is one
        if judged is None:
            found.note(knob, f"{flag}: {why}")
        else:
            found.add(knob, flag, "flag", SOURCE if _is_argparse(call) else "click synonym", judged)
    return found


_STANDARD = {"epochs", "output_dir", "seed"}


def _long_spellings(call: ast.Call) -> list[str]:
    spellings: list[str] = []
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.Constant) else None
        if isinstance(value, str):
            spellings += [s.strip() for s in value.split("/") if s.strip().startswith("--")]
    return spellings


def _is_argparse(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"


def _evidence(call: ast.Call, flag: str, context: Context) -> Evidence:
    help_node = keyword(call, "help")
    help_text = literal(help_node)
    default = literal(keyword(call, "default"))
    if default is UNKNOWN:
        default = None
    type_node = keyword(call, "type")
    is_int = None
    if isinstance(type_node, ast.Name) and type_node.id in {"int", "float", "str"}:
        is_int = type_node.id == "int"
    path_kind = _click_path_kind(type_node)
    if path_kind is not None:
        help_text = f"{help_text or ''} {path_kind}"
    dest = literal(keyword(call, "dest"))
    attr = dest if isinstance(dest, str) else flag.lstrip("-").replace("-", "_")
    return Evidence(
        help_text if isinstance(help_text, str) else None,
        default,
        is_int=is_int,
        start_index=attr in context.start_indexes,
    )


def _click_path_kind(type_node: ast.expr | None) -> str | None:
    """`click.Path(file_okay=False)` is a dir; `dir_okay=False` a file (said as help)."""
    if not (
        isinstance(type_node, ast.Call) and (qualified(type_node.func, {}) or "").endswith("Path")
    ):
        return None
    if literal(keyword(type_node, "dir_okay")) is False:
        return "a file"
    if literal(keyword(type_node, "file_okay")) is False:
        return "an output directory"
    return None


def _default_is_env_output(call: ast.Call) -> bool:
    """`default=os.environ.get("SM_MODEL_DIR")` or `os.environ["SM_MODEL_DIR"]`."""
    default = keyword(call, "default")
    return default is not None and any(
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in ENV_OUTPUT_DIRS
        for node in ast.walk(default)
    )
