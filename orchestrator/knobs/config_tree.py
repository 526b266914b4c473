"""Knobs among the keys of a YAML config tree (Hydra's composed config, an OmegaConf file):
`trainer.max_epochs`, `training.num_epochs`, `output_dir`, `seed`, set as `key=value`."""

from __future__ import annotations

from orchestrator.knobs.base import Found
from orchestrator.knobs.names import LIKELY, Evidence, judge, lookup

#: How deep and how many keys a config tree is read: YAML anchors can make a small file
#: a huge (or, with a node inside itself, endless) tree.
MAX_DEPTH = 12
MAX_KEYS = 5000


def flatten(tree: object) -> dict[str, object]:
    """`{trainer: {max_epochs: 10}}` → `{"trainer.max_epochs": 10}` (leaves only)."""
    out: dict[str, object] = {}
    _flatten(tree, "", out, 0)
    return out


def _flatten(tree: object, prefix: str, out: dict[str, object], depth: int) -> None:
    if len(out) >= MAX_KEYS or depth > MAX_DEPTH:
        return
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(key, str) and key.isidentifier():
                _flatten(value, f"{prefix}{key}.", out, depth + 1)
    elif prefix:
        out[prefix[:-1]] = tree


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
            names = [k for k, _ in found_keys]
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            found.note(knob, f"several keys could be it: {', '.join(names[:3])}{more}")
        found.add(knob, key, "override", source, confidence)
