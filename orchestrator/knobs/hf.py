"""`HfArgumentParser((ModelArguments, ..., TrainingArguments))` and TRL's `TrlParser`: each
dataclass field is a flag `--field_name` (HF also accepts `--field-name`), and
`transformers.TrainingArguments` and its subclasses (TRL's `SFTConfig`, `DPOConfig`, ...)
bring `--num_train_epochs`, `--output_dir` and `--seed`."""

from __future__ import annotations

import ast

from orchestrator.knobs.base import Context, Found, add_params, underscored
from orchestrator.knobs.names import CERTAIN
from orchestrator.knobs.syntax import called, calls, classes, fields, is_dataclass, qualified

#: TrainingArguments and the transformers/TRL classes built on it.
TRAINING_ARGUMENTS = {"TrainingArguments", "Seq2SeqTrainingArguments"}
#: TRL's configs that are not trainer arguments.
TRL_NOT_TRAINING = {"ModelConfig", "ScriptArguments"}
#: The calls that read the command line (a parser only given a JSON file reads none).
PARSE_CALLS = (b"parse_args_into_dataclasses", b"parse_args_and_config", b"parse_args(")


def detect(context: Context) -> Found:
    found = Found()
    parser = next(
        (
            c
            for c in calls(context.tree)
            if called(c, context.imports, "HfArgumentParser", "TrlParser")
        ),
        None,
    )
    if parser is None or not parser.args:
        return found
    if not any(marker in context.source for marker in PARSE_CALLS):
        for knob in ("epochs", "output_dir", "seed"):
            found.note(knob, "HfArgumentParser reads a file, not the command line")
        return found
    local = classes(context.tree)
    for name in _dataclass_names(parser.args[0]):
        _add_dataclass(found, name, context, local)
    return found


def _dataclass_names(node: ast.expr) -> list[ast.expr]:
    return list(node.elts) if isinstance(node, ast.Tuple | ast.List) else [node]


def _add_dataclass(
    found: Found, node: ast.expr, context: Context, local: dict[str, ast.ClassDef]
) -> None:
    name = qualified(node, context.imports) or ""
    short = name.rsplit(".", 1)[-1]
    if isinstance(node, ast.Name) and node.id in local:
        cls = local[node.id]
        for base in cls.bases:  # a script's own subclass of TrainingArguments
            _add_library_class(found, qualified(base, context.imports) or "")
        if is_dataclass(cls, context.imports):
            add_params(found, fields(cls), underscored, f"HfArgumentParser {cls.name}")
        return
    if short:
        _add_library_class(found, name)


def _add_library_class(found: Found, name: str) -> None:
    short = name.rsplit(".", 1)[-1]
    if name.startswith("transformers") and short in TRAINING_ARGUMENTS:
        source = f"transformers {short}"
    elif name.startswith("trl") and short.endswith("Config") and short not in TRL_NOT_TRAINING:
        source = f"trl {short}"
    else:
        return
    found.add("epochs", "--num_train_epochs", "flag", source, CERTAIN)
    found.add("output_dir", "--output_dir", "flag", source, CERTAIN)
    found.add("seed", "--seed", "flag", source, CERTAIN)
