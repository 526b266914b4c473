"""Jobs: discovery and config merged into one `JobSpec` per id, then `--only`/`--exclude`.

- `merging`: discovered scripts + config → specs (config overriding field by field);
- `matrices`: a matrix job → its combinations;
- `file_names`: a job id as file names, and the ids that would share them;
- `selection`: selectors → the jobs to run, with what they need.
"""

from __future__ import annotations

from orchestrator.jobs.file_names import (
    SAME_FILES,
    defined_at,
    is_clash,
    mark_clashes,
    safe_name,
    set_at,
)
from orchestrator.jobs.merging import merge
from orchestrator.jobs.selection import Selector, forced, parse_selectors, quoted, select

__all__ = [
    "SAME_FILES",
    "Selector",
    "defined_at",
    "forced",
    "is_clash",
    "mark_clashes",
    "merge",
    "parse_selectors",
    "quoted",
    "safe_name",
    "select",
    "set_at",
]
