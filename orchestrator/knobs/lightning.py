"""`LightningCLI(Model, DataModule)`: the trainer's own arguments are flags
(`--trainer.max_epochs`, `--trainer.default_root_dir`) and `--seed_everything` sets the
seed; unless built with `run=False`, a subcommand (`fit`) comes before them."""

from __future__ import annotations

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.names import CERTAIN
from orchestrator.knobs.syntax import called, calls, classes, keyword, literal, qualified

SOURCE = "LightningCLI"


def detect(context: Context) -> Found:
    found = Found()
    names = {"LightningCLI", *_subclasses(context)}
    cli = next((c for c in calls(context.tree) if called(c, context.imports, *names)), None)
    if cli is None:
        return found
    if keyword(cli, "args") is not None and literal(keyword(cli, "args")) is not None:
        for knob in ("epochs", "output_dir", "seed"):
            found.note(knob, "LightningCLI(args=...) does not read the command line")
        return found
    found.prefix = () if literal(keyword(cli, "run")) is False else ("fit",)
    found.add("epochs", "--trainer.max_epochs", "flag", SOURCE, CERTAIN)
    found.add("output_dir", "--trainer.default_root_dir", "flag", SOURCE, CERTAIN)
    found.add("seed", "--seed_everything", "flag", SOURCE, CERTAIN)
    return found


def _subclasses(context: Context) -> set[str]:
    """A script's own `class MyCLI(LightningCLI)` builds the same command line."""
    return {
        name
        for name, cls in classes(context.tree).items()
        if any((qualified(b, context.imports) or "").endswith("LightningCLI") for b in cls.bases)
    }
