"""Read what a finished job left in its output dir."""

from __future__ import annotations

import json
import math
from pathlib import Path

METRICS_FILE = "metrics.json"


def read_metrics(output_dir: str, since: float) -> tuple[tuple[tuple[str, float], ...], str | None]:
    """Numeric metrics from `metrics.json`, plus a note when the file is unusable.

    A file older than the attempt is ignored: it was left by an earlier run, and reporting
    last week's accuracy as tonight's would be worse than reporting none.
    """
    path = Path(output_dir) / METRICS_FILE
    try:
        if path.stat().st_mtime < since - 1.0:
            return (), f"{path} predates this run; ignored"
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return (), None
    except (OSError, ValueError) as exc:
        return (), f"{path}: unreadable ({exc})"
    if not isinstance(data, dict):
        return (), f"{path}: expected a JSON object"
    metrics = tuple(
        (str(key), float(value))
        for key, value in data.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )
    return metrics, None
