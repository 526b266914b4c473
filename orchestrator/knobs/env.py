"""Knobs read from the environment: `os.environ.get("OUTPUT_DIR")`, `os.getenv(...)`,
`os.environ["SM_MODEL_DIR"]`; set in the job's env, not its argv."""

from __future__ import annotations

import re

from orchestrator.knobs.base import Context, Found
from orchestrator.knobs.names import CERTAIN, ENV_OUTPUT_DIRS

ENV_KNOBS = {
    **dict.fromkeys(ENV_OUTPUT_DIRS, "output_dir"),
    "EPOCHS": "epochs",
    "NUM_EPOCHS": "epochs",
    "SEED": "seed",
    "RANDOM_SEED": "seed",
}
#: A variable read by name. Matched on the source, not by walking the tree: walking every
#: node of a script costs as much as parsing it, and this runs for any script that names
#: one of the variables (in a comment, or as part of TRAIN_ORCH_OUTPUT_DIR).
_READ = rb"""(?:\bgetenv|\benviron\.get)\(\s*["'](\w+)["']|\benviron\[\s*["'](\w+)["']\s*\]"""


def detect(context: Context) -> Found:
    found = Found()
    read = {(a or b).decode() for a, b in re.findall(_READ, context.source)}
    for name in sorted(read & ENV_KNOBS.keys()):
        found.add(ENV_KNOBS[name], name, "env", ENV_OUTPUT_DIRS.get(name, "environment"), CERTAIN)
    return found
