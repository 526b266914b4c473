"""A job's settings in its script's own dialect: flags, `key=value` overrides, variables.

Which standard setting (output dir, epochs, folds, seed) a script takes and how
(`knob_for`), and a job's parameters as flags (`param_args`): what `build.py` puts on
each command line, and what `--list` shows of each script.
"""

from __future__ import annotations

import re

from orchestrator.discovery import canonical
from orchestrator.models import STANDARD_FLAGS, JobSpec, Knob, ParamValue, RunOptions


class KnobArgs:
    """The standard settings in a script's dialect: flags, `key=value` overrides, variables."""

    __slots__ = ("env", "flags", "overrides", "passed")

    def __init__(self) -> None:
        self.passed: list[Knob] = []
        self.flags: list[str] = []
        self.overrides: list[str] = []
        self.env: dict[str, str] = {}


def standard_args(spec: JobSpec, options: RunOptions, output_dir: str) -> KnobArgs:
    """Output dir, epochs, folds, seed: only those the script takes, each as it takes it.

    The command line overrides config for epochs and folds: a CI form's "epochs: 3" means
    "a quick run of everything", whatever each job's own default is.
    """
    values: dict[str, object] = {
        "output_dir": output_dir,
        "epochs": options.epochs if options.epochs is not None else spec.epochs,
        "folds": options.folds if options.folds is not None else spec.folds,
        "seed": spec.seed,
    }
    found = KnobArgs()
    if spec.command is not None:
        return found
    for name, value in values.items():
        knob = knob_for(spec, name)
        if knob is None or value is None:
            continue
        found.passed.append(knob)
        if knob.style == "override":
            found.overrides.append(f"{knob.spelling}={override_value(str(value))}")
        elif knob.style == "env":
            found.env[knob.spelling] = str(value)
        else:
            found.flags += [knob.spelling, str(value)]
    return found


def knob_for(spec: JobSpec, name: str) -> Knob | None:
    """How the job's script takes a standard setting, or None if it is not passed.

    `flag_names` in config wins, then a literal standard flag the script declares, then
    what detection found: certain mappings, and likely ones where the job says
    `knobs: likely`. Nothing else: a flag a script does not accept fails its run.
    """
    mapped = dict(spec.flag_names).get(name)
    if mapped is not None:
        return Knob(name, mapped, "flag", "flag_names", "certain")
    declared = next((f for f in spec.flags if canonical(f) == name), None)
    if declared is not None:
        return Knob(name, declared, "flag", "declared", "certain")
    return next(
        (
            k
            for k in spec.knobs
            if k.name == name and (k.confidence == "certain" or spec.knob_level == "likely")
        ),
        None,
    )


def knob_why(spec: JobSpec, name: str) -> str:
    """Why a script takes no value for a setting: a likely mapping the job did not opt
    into, a rejected look-alike, or nothing found."""
    likely = next((k for k in spec.knobs if k.name == name), None)
    notes = [text for knob, text in spec.knob_notes if knob == name]
    if likely is not None:
        notes.insert(0, f"{likely.spelling} is likely ({likely.source}): `knobs: likely` passes it")
    return "; ".join(notes) or "none found"


def declared_flag(spec: JobSpec, name: str) -> str | None:
    """The flag a script takes a standard setting by, or None (also for an override)."""
    knob = knob_for(spec, name)
    return knob.spelling if knob is not None and knob.style == "flag" else None


#: What Hydra's override grammar (and OmegaConf's dotlist) take unquoted. A pattern, not a
#: compiled one: every command imports this module, few plan an override.
_PLAIN_VALUE = r"[A-Za-z0-9_./\-]+"


def override_value(value: str) -> str:
    """A value as Hydra's and OmegaConf's override parsers read it back unchanged: a dir
    with a space, a quote or `=` in it is quoted."""
    if re.fullmatch(_PLAIN_VALUE, value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def param_args(spec: JobSpec) -> list[str]:
    """`{max_depth: 4, verbose: true}` → `--max-depth 4 --verbose` (or as the script spells it)."""
    args: list[str] = []
    for key, value in spec.params:
        args += _flag_value(flag_for(spec, key), value)
    return args


def flag_for(spec: JobSpec, key: str) -> str:
    """The flag for a parameter name: as the script declares it, else `--name-with-dashes`."""
    declared = next((f for f in spec.flags if canonical(f) == canonical(key)), None)
    return declared or (key if key.startswith("-") else "--" + key.replace("_", "-"))


def _flag_value(flag: str, value: ParamValue) -> list[str]:
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, tuple):
        return [flag, *value]
    return [flag, str(value)]


def doubled_knob(spec: JobSpec) -> tuple[str, Knob] | None:
    """A parameter or verbatim arg setting what the orchestrator passes itself, or None.

    Given twice, the script keeps the last one: `args: {epochs: 100}` beside `--epochs 1`
    trained 100 epochs, and an `output-dir` of its own hid the job's metrics. Checked
    whether or not a value is passed this time, so a config is valid or not by itself.
    Returns (the parameter's name or the arg, the knob it collides with).
    """
    knobs = [
        knob
        for name in STANDARD_FLAGS
        if spec.command is None and (knob := knob_for(spec, name)) is not None
    ]
    for knob in knobs:
        if knob.style == "env":  # the job's own `env:` wins over a detected variable
            continue
        for key, _ in spec.params:
            if knob.style == "flag" and canonical(flag_for(spec, key)) == canonical(knob.spelling):
                return key, knob
        for arg in spec.args:
            if _sets(arg, knob):
                return arg, knob
    return None


def _sets(arg: str, knob: Knob) -> bool:
    """`--epochs`, `--epochs=3`; an override's `trainer.max_epochs=3` (Hydra's `+`/`++` too)."""
    if knob.style == "override":
        return arg.lstrip("+").startswith(f"{knob.spelling}=")
    return arg.startswith("-") and canonical(arg.partition("=")[0]) == canonical(knob.spelling)
