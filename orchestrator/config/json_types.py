"""JSON Schema fragments shared by the key table and the sub-languages' own schemas."""

from __future__ import annotations

from typing import Any

from orchestrator.config.validate import SIZE_PATTERN

SCALAR = {"type": ["string", "number", "boolean"]}
TEXT = {"type": "string", "pattern": r"\S"}
TEXT_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": SCALAR}]}
SECONDS = {"type": "number", "minimum": 0}
AUTO = {"const": "auto"}
SIZE: dict[str, Any] = {
    "title": "size",
    "anyOf": [
        {"type": "integer", "minimum": 1 << 20},
        {"type": "string", "pattern": SIZE_PATTERN},
    ],
}


def enum_list(*choices: str) -> dict[str, Any]:
    """One of `choices`, or a list of them."""
    return {"anyOf": [{"enum": list(choices)}, {"type": "array", "items": {"enum": list(choices)}}]}
