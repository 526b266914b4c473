"""The checks behind `tracking:` (top level) and a job's `register:` (issue 20).

Both are read before anything runs, so a typo fails with its line before training, not
when the run ends and a model would have been registered.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from orchestrator.config.document import Document, KeyPath, Value
from orchestrator.config.json_types import TEXT, TEXT_LIST
from orchestrator.config.validate import SIZE_PATTERN, memory_size, text, text_set, type_name
from orchestrator.errors import did_you_mean
from orchestrator.models import Register, TrackingConfig

MLFLOW_KEYS = ("experiment", "tracking_uri", "ui_url", "artifacts")
ARTIFACT_KEYS = ("max_bytes", "include", "exclude")
REGISTER_KEYS = ("name", "artifact", "alias")
#: What the Model Registry accepts as a model name or an alias (it refuses the rest with
#: a 400 at the end of the run; here it is a config error with its line).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,255}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$")
#: The schemes MLflow's own tracking stores take (a path has none); plugins add theirs
#: under the `mlflow.tracking_store` entry points. Refused here, a typo fails before the
#: run, not as a warning after it, its jobs untracked.
STORE_SCHEMES = ("", "file", "http", "https", "databricks", "databricks-uc", "uc")
#: SQLAlchemy's database URIs, `dialect[+driver]://`.
DATABASE_ENGINES = ("postgresql", "mysql", "sqlite", "mssql")


def tracking(doc: Document, keys: KeyPath, value: Value) -> TrackingConfig | None:
    """`tracking: {mlflow: {...}}`; `tracking: {mlflow: false}` turns it off explicitly."""
    fields = _mapping(doc, keys, value, ("mlflow",))
    raw = fields.get("mlflow")
    if raw is False or raw is None:
        return None
    if raw is True:
        return TrackingConfig()
    mlflow = _mapping(doc, (*keys, "mlflow"), raw, MLFLOW_KEYS)
    where = (*keys, "mlflow")
    artifacts = _mapping(doc, (*where, "artifacts"), mlflow.get("artifacts") or {}, ARTIFACT_KEYS)
    found: dict[str, Any] = {
        name: text(doc, (*where, name), mlflow[name])
        for name in ("experiment", "tracking_uri", "ui_url")
        if name in mlflow
    }
    if problem := tracking_uri_problem(found.get("tracking_uri", "")):
        raise doc.error((*where, "tracking_uri"), problem)
    if "max_bytes" in artifacts:
        found["max_artifact_bytes"] = _bytes(doc, (*where, "artifacts", "max_bytes"), artifacts)
    for name in ("include", "exclude"):
        if name in artifacts:
            found[name] = text_set(doc, (*where, "artifacts", name), artifacts[name])
    return TrackingConfig(**found)


def tracking_uri_problem(uri: str) -> str | None:
    """Why MLflow has no tracking store for `uri`, or None if it has one."""
    scheme = urllib.parse.urlparse(uri).scheme  # lower case, as MLflow compares it
    if len(scheme) == 1 or scheme in STORE_SCHEMES or scheme.startswith(DATABASE_ENGINES):
        return None  # one letter: a Windows drive, a path
    from importlib.metadata import entry_points

    if scheme in {point.name for point in entry_points(group="mlflow.tracking_store")}:
        return None
    return (
        f"MLflow has no tracking store for {scheme}: URIs ({uri!r}); it takes paths, file:, "
        "http(s):, databricks, sqlite/postgresql/mysql/mssql, and plugins' schemes"
    )


def _bytes(doc: Document, keys: KeyPath, artifacts: dict[str, Value]) -> int:
    """0 uploads no output file (the log still goes); else a size like `memory_limit`."""
    value = artifacts["max_bytes"]
    if value == 0 and not isinstance(value, bool):
        return 0
    return memory_size(doc, keys, value)


def register(doc: Document, keys: KeyPath, value: Value) -> Register:
    """`register: NAME` or `{name, artifact, alias}`; `alias: null` moves no alias."""
    if isinstance(value, str):
        value = {"name": value}
    fields = _mapping(doc, keys, value, REGISTER_KEYS)
    if "name" not in fields:
        raise doc.error(keys, "missing 'name': the registered model's name")
    name = text(doc, (*keys, "name"), fields["name"])
    if not _NAME.match(name):
        raise doc.error((*keys, "name"), f"not a model name the registry accepts: {name!r}")
    artifact = text(doc, (*keys, "artifact"), fields.get("artifact", "model.joblib"))
    if artifact.startswith("/") or ".." in artifact.split("/"):
        raise doc.error((*keys, "artifact"), f"must be a path inside the output dir: {artifact!r}")
    alias = fields.get("alias", "candidate")
    if alias is not None:
        alias = text(doc, (*keys, "alias"), alias)
        if not _ALIAS.match(alias) or alias.lower() == "latest" or re.match(r"^v\d+$", alias):
            raise doc.error((*keys, "alias"), f"not an alias the registry accepts: {alias!r}")
    return Register(name, artifact, alias)


def _mapping(
    doc: Document, keys: KeyPath, value: Value, known: tuple[str, ...]
) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise doc.error(keys, f"expected a mapping, got {type_name(value)}")
    for name in map(str, value):
        if name not in known:
            raise doc.error((*keys, name), "unknown key", did_you_mean(name, known))
    return {str(k): v for k, v in value.items()}


#: The JSON Schema of `tracking:` (top level, config/export.py).
TRACKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "experiment tracking: {mlflow: {experiment, tracking_uri, ui_url, "
    "artifacts: {max_bytes, include, exclude}}}; mlflow: true for the defaults",
    "additionalProperties": False,
    "properties": {
        "mlflow": {
            "anyOf": [
                {"type": ["boolean", "null"]},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "experiment": TEXT,
                        "tracking_uri": TEXT,
                        "ui_url": TEXT,
                        "artifacts": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "max_bytes": {
                                    "anyOf": [
                                        {"type": "integer", "minimum": 0},
                                        {"type": "string", "pattern": SIZE_PATTERN},
                                    ]
                                },
                                "include": TEXT_LIST,
                                "exclude": TEXT_LIST,
                            },
                        },
                    },
                },
            ]
        }
    },
}

#: The JSON Schema of `register:` (its row of the key table, config/keys.py).
REGISTER_SCHEMA: dict[str, Any] = {
    "anyOf": [
        TEXT,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": TEXT,
                "artifact": TEXT,
                "alias": {"type": ["string", "null"]},
            },
        },
    ]
}
