"""YAML job definitions → validated, normalised values that remember where they came from.

- `yaml_positions`: YAML text → a `Document` knowing each key's line and column, with
  aliases bounded and merge keys resolved;
- `keys`: the one table of job keys (validator, JSON Schema, README help); `export`: the
  JSON Schema and README table built from it (imported by `config-schema` alone, not by
  every command as this package is);
- `validate`, `matrix`, `sweep`: the checks the table names;
- `load`: config files → one merged `Config`.
"""

from __future__ import annotations

from orchestrator.config.document import TOP_LEVEL, Value
from orchestrator.config.keys import JOB_FIELDS
from orchestrator.config.load import Config, JobConfig, config_files, load_configs
from orchestrator.config.notify import Email, Notify, NotifyTarget
from orchestrator.config.sweep import MAX_GRID_POINTS, SWEEP_KEYS
from orchestrator.config.yaml_positions import ALIAS_BUDGET

__all__ = [
    "ALIAS_BUDGET",
    "JOB_FIELDS",
    "MAX_GRID_POINTS",
    "SWEEP_KEYS",
    "TOP_LEVEL",
    "Config",
    "Email",
    "JobConfig",
    "Notify",
    "NotifyTarget",
    "Value",
    "config_files",
    "load_configs",
]
