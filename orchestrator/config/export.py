"""What is derived from the key table: the config's JSON Schema and README's table.

The schema (`orchestrator/schemas/config.schema.json`, for editors and CI) and the table
(`run-all-training config-schema --format markdown`) are built from the same `Key`s the
loader validates with, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.config.document import EXTENSION_PREFIX
from orchestrator.config.json_types import TEXT
from orchestrator.config.keys import COMMON_FIELDS, JOB_FIELDS, Key
from orchestrator.config.notify import NOTIFY_SCHEMA
from orchestrator.config.tracking import TRACKING_SCHEMA


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors (yaml-language-server) and CI."""

    def props(keys: Mapping[str, Key]) -> dict[str, Any]:
        return {name: {**key.schema, "description": key.help} for name, key in keys.items()}

    job = {
        "type": ["object", "null"],
        "properties": props(JOB_FIELDS),
        "additionalProperties": False,
        "dependentSchemas": {"script": {"not": {"required": ["command"]}}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "training-orchestrator job definitions (configs/*.yaml)",
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "defaults": {
                "type": ["object", "null"],
                "properties": props(COMMON_FIELDS),
                "additionalProperties": False,
            },
            "jobs": {"type": ["object", "null"], "additionalProperties": job},
            "tracking": TRACKING_SCHEMA,
            "notify": NOTIFY_SCHEMA,
            "profile": {
                **TEXT,
                "description": "makes the file a profile: loaded only "
                "with --profile NAME or --config FILE, never automatically",
            },
        },
        "patternProperties": {
            f"^{EXTENSION_PREFIX}": {"description": "ignored: a place for &anchors to merge"}
        },
    }


def config_reference() -> str:
    """README's "Configure jobs" table: every job key, its type, default and meaning."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{name}` | {_kind(key.schema)} | {key.default} | {key.help} |"
        for name, key in JOB_FIELDS.items()
    ]
    return "\n".join(rows) + "\n"


def _kind(schema: Mapping[str, Any]) -> str:
    if "title" in schema:
        return str(schema["title"])
    if "enum" in schema:
        return " / ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_kind(alt) for alt in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "integer":
        return f"int ≥ {schema['minimum']}"
    if kind == "number":
        return "number > 0" if "exclusiveMinimum" in schema else f"number ≥ {schema['minimum']}"
    return {"boolean": "bool", "object": "mapping", "array": "list"}.get(str(kind), "string")
