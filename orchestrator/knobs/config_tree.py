"""Knobs among the keys of a YAML config tree (Hydra's composed config, an OmegaConf file):
`trainer.max_epochs`, `training.num_epochs`, `output_dir`, `seed`, set as `key=value`."""

from __future__ import annotations

from orchestrator.knobs.base import Found
from orchestrator.knobs.names import LIKELY, Evidence, judge, lookup


def flatten(
    tree: object, prefix: str = "", out: dict[str, object] | None = None
) -> dict[str, object]:
    """`{trainer: {max_epochs: 10}}` → `{"trainer.max_epochs": 10}` (leaves only)."""
    out = {} if out is None else out
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(key, str) and key.isidentifier():
                flatten(value, f"{prefix}{key}.", out)
    elif prefix:
        out[prefix[:-1]] = tree
    return out


def add_keys(
    found: Found, keys: dict[str, object], source: str, skip: tuple[str, ...] = ()
) -> None:
    """Per knob, the one key that means it; two that could (a model's and a trainer's
    `epochs`) make it likely at most, the shortest path first."""
    candidates: dict[str, list[tuple[str, str]]] = {}
    for key, value in keys.items():
        if key.startswith(skip):
            continue
        meaning = lookup(key.rsplit(".", 1)[-1])
        if meaning is None:
            continue
        knob, confidence = meaning
        judged, why = judge(knob, confidence, Evidence(None, value))
        if judged is None:
            found.note(knob, f"{key}: {why}")
        elif knob != "output_dir" or value is None or isinstance(value, str):
            candidates.setdefault(knob, []).append((key, judged))
    for knob, found_keys in candidates.items():
        found_keys.sort(key=lambda item: (item[0].count("."), item[0]))
        key, confidence = found_keys[0]
        if len(found_keys) > 1:
            confidence = LIKELY
            found.note(knob, f"several keys could be it: {', '.join(k for k, _ in found_keys)}")
        found.add(knob, key, "override", source, confidence)
