"""How a script takes epochs, output dir and seed in its own dialect, as `--list` and
`--dry-run` say it. Imported only where some script speaks one."""

from __future__ import annotations

import shlex
from typing import Any

from orchestrator.models import JobSpec, Knob, PlannedJob
from orchestrator.plan import knob_for, knob_why
from orchestrator.report.listing import knob_dict

#: The knobs in the order --list shows them.
_SHOWN = ("epochs", "output_dir", "seed")


def shown_knob(knob: Knob) -> str:
    """`--num_train_epochs`, `trainer.max_epochs=`, `$OUTPUT_DIR`: how the value goes in."""
    return {"override": f"{knob.spelling}=", "env": f"${knob.spelling}"}.get(
        knob.style, knob.spelling
    )


def knob_text(spec: JobSpec) -> str:
    """`E→--num_train_epochs O→--output_dir S→--seed (transformers TrainingArguments)`;
    a likely mapping not passed ends in `?`, a knob not found is `E: none`."""
    if spec.command is not None or spec.error:
        return ""
    parts: list[str] = []
    sources: dict[str, None] = {}
    for name in _SHOWN:
        letter = name[0].upper()
        knob = knob_for(spec, name) or _unpassed(spec, name)
        if knob is None:
            parts.append(f"{letter}: none")
            continue
        passed = knob_for(spec, name) is not None
        parts.append(f"{letter}→{shown_knob(knob)}" + ("" if passed else "?"))
        if knob.source != "declared":
            sources[knob.source] = None
        if not passed:
            sources["? likely: `knobs: likely` passes it"] = None
    tail = list(sources)
    if spec.args_prefix:
        tail.append(f"after {shlex.join(spec.args_prefix)}")
    return "  ".join(parts) + (f"  ({'; '.join(tail)})" if tail else "")


def _unpassed(spec: JobSpec, name: str) -> Knob | None:
    return next((k for k in spec.knobs if k.name == name), None)


def knob_json(spec: JobSpec, name: str) -> dict[str, Any]:
    """One standard setting: how it reaches the script and why, or why it does not."""
    passed = knob_for(spec, name)
    knob = passed or _unpassed(spec, name)
    if knob is None or spec.command is not None:
        return {"knob": name, "passed": False, "why": knob_why(spec, name)}
    return {
        **knob_dict(knob),
        "passed": passed is not None,
        **({} if passed else {"why": knob_why(spec, name)}),
    }


def knob_lines(job: PlannedJob) -> list[str]:
    """How epochs, output dir and seed reach a script that speaks its own dialect, and why
    one does not; nothing for a script that takes the standard flags (or for a command)."""
    own = sorted(
        (k for k in job.knobs if k.source != "declared"), key=lambda k: _SHOWN.index(k.name)
    )
    why = sorted(
        ((name, text) for name, text in job.knobs_missing if text not in _PLAIN_WHY),
        key=lambda item: _SHOWN.index(item[0]),
    )
    env = dict(job.env)
    lines: list[str] = []
    if own:
        shown = [
            f"{k.name[0].upper()}→"
            + (f"{k.spelling}={env.get(k.spelling, '')}" if k.style == "env" else shown_knob(k))
            for k in own
        ]
        sources = ", ".join(dict.fromkeys(k.source for k in own))
        lines.append(f"knobs: {'  '.join(shown)}  ({sources})")
    lines += [f"{name.replace('_', ' ')}: {text}" for name, text in why]
    return lines


#: Reasons too plain to repeat on every job: the standard flags are the common case.
_PLAIN_WHY = frozenset({"none found"})
