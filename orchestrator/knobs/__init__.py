"""Which flag, override or variable sets a script's epoch count, output dir and seed, read
from its source (and the config files beside it) by the conventions of the libraries that
build command lines: Hugging Face, Lightning, Hydra, OmegaConf, fire, typer, tyro, absl,
jsonargparse, and argparse/click under other names. Nothing is imported or run.

Each detector is a module with `detect(context) -> Found`, imported only for a script whose
source names its library (`REGISTRY`): the bundled scripts, plain argparse, load one.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.names import CERTAIN
from orchestrator.models import KNOB_NAMES, Knob

#: Detector module → the bytes one of which a script's source holds if it may apply.
#: Order is preference: a library's documented field before a synonym, a flag before a
#: variable.
REGISTRY: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("hf", (b"HfArgumentParser", b"TrlParser")),
    ("lightning", (b"LightningCLI",)),
    ("hydra", (b"hydra",)),
    ("omegaconf_cli", (b"from_cli",)),
    ("fire", (b"fire",)),
    ("typer", (b"typer",)),
    ("tyro", (b"tyro",)),
    ("absl", (b"DEFINE_",)),
    ("jsonargparse", (b"jsonargparse",)),
    ("synonyms", (b"add_argument", b"option", b"Option")),
    ("env", (b"OUTPUT_DIR", b"MODEL_DIR", b"EPOCHS", b"SEED")),
)


class Detected:
    """A script's knobs, the subcommand its CLI needs, why a knob is missing, and the files
    (with digests) the answer depends on."""

    __slots__ = ("deps", "knobs", "notes", "prefix")

    def __init__(
        self,
        knobs: tuple[Knob, ...] = (),
        prefix: tuple[str, ...] = (),
        notes: tuple[tuple[str, str], ...] = (),
        deps: tuple[tuple[str, str | None], ...] = (),
    ) -> None:
        self.knobs = knobs
        self.prefix = prefix
        self.notes = notes
        self.deps = deps


def detect(
    tree: ast.Module, source: bytes, directory: Path, flag_calls: list[ast.Call]
) -> Detected:
    """Every detector whose library the source names, merged: per knob, the first certain
    mapping, else the first likely one."""
    context = Context(tree, source, directory, flag_calls)
    results: list[Found] = []
    for name, markers in REGISTRY:
        if any(marker in source for marker in markers):
            module = importlib.import_module(f"orchestrator.knobs.{name}")
            results.append(module.detect(context))
    return _merge(results, context)


def _merge(results: list[Found], context: Context) -> Detected:
    chosen: dict[str, Knob] = {}
    for knob in (k for found in results for k in found.knobs):
        held = chosen.get(knob.name)
        if held is None or (held.confidence != CERTAIN and knob.confidence == CERTAIN):
            chosen[knob.name] = knob
    notes = {
        (name, text)
        for found in results
        for name, text in found.notes
        if chosen.get(name) is None or chosen[name].confidence != CERTAIN
    }
    prefix = next((f.prefix for f in results if f.prefix is not None), ())
    return Detected(
        knobs=tuple(chosen[name] for name in KNOB_NAMES if name in chosen),
        prefix=prefix,
        notes=tuple(sorted(notes)),
        deps=tuple(sorted(context.deps.items())),
    )
