"""The run summary's values: a run, its jobs, their attempts, and the format's version.

Frozen and typed, so that once a summary is read nobody spells `"jobs"` again.

JSON has no NaN or infinity: a metric that became one is written as the string `"NaN"`,
`"Infinity"` or `"-Infinity"` (schema 2) and read back as the float it stands for.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.models import Status
from orchestrator.usage import Usage

#: 2: a metric may be the string "NaN", "Infinity" or "-Infinity". A reader of 1 would
#: take those for numbers, so it must refuse such a file rather than misread it.
#: 3: an attempt may carry its `usage`, and a status may be `out_of_memory`, which a
#: reader of 2 does not know: it says to upgrade rather than fail on an unknown status.
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

#: A non-finite metric's spelling in the JSON: the tokens JavaScript and Python's `json`
#: print for these values, as strings, since JSON itself has no way to say them.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    number: int
    status: Status
    started_at: str
    duration_s: float
    exit_code: int | None = None
    signal: int | None = None
    node: str | None = None
    error: str | None = None
    #: What its processes used (summaries since measuring began, Linux runs).
    usage: Usage | None = None
    #: The GPU devices it held (its CUDA_VISIBLE_DEVICES), when it held any.
    gpu_devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    status: Status
    script: str = ""
    argv: tuple[str, ...] = ()
    reason: str | None = None
    optional: bool = False
    tags: tuple[str, ...] = ()
    attempts: tuple[AttemptRecord, ...] = ()
    duration_s: float = 0.0
    log_path: str = ""
    output_dir: str = ""
    #: Floats, NaN and the infinities included.
    metrics: Mapping[str, float] = field(default_factory=dict)
    gates: tuple[str, ...] = ()
    headline: str | None = None
    needs: tuple[str, ...] = ()
    from_run: str | None = None
    sweep: Mapping[str, Any] | None = None
    #: The CI shard (`K/N`) that ran it, in a merged run.
    shard: str | None = None
    #: What `promote:` did: `{name, version, path}`, or `{name, note}` saying why not.
    promotion: Mapping[str, Any] | None = None

    @property
    def is_trial(self) -> bool:
        return is_trial(self.tags)


@dataclass(frozen=True, slots=True)
class RunSummary:
    started_at: str
    ended_at: str
    exit_code: int
    jobs: tuple[JobRecord, ...]
    duration_s: float = 0.0
    interrupted_by: str | None = None
    host: str | None = None
    python: str | None = None
    orchestrator_version: str | None = None
    git_commit: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    backend: Mapping[str, Any] = field(default_factory=lambda: {"name": "local"})
    counts: Mapping[str, int] = field(default_factory=dict)
    #: What MLflow tracking did (its parent run, each job's run, its status), when on.
    tracking: Mapping[str, Any] | None = None
    #: Each `notify:` target's outcome: `{target, status, attempts, error}`, sent after
    #: the summary was first written (which is rewritten with them).
    notifications: tuple[Mapping[str, Any], ...] = ()

    @property
    def started(self) -> float:
        """The start as a POSIX timestamp (checked to parse when loaded)."""
        return parse_iso(self.started_at)


def is_trial(tags: Sequence[str]) -> bool:
    """A sweep trial: reports fold it into its sweep's row (twelve trial rows bury the news)."""
    return any(tag.startswith("sweep:") for tag in tags)


def parse_iso(text: str) -> float:
    """`2026-11-25T22:41:07.123Z` as a POSIX timestamp."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # a time without a zone would be read as the machine's
        raise ValueError(f"no time zone in {text!r}")
    return moment.timestamp()


def encode_metric(value: float) -> float | str:
    """A metric as JSON can hold it: itself, or a non-finite one's string."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def decode_metric(value: object) -> float | None:
    """A metric as stored (a number, or a non-finite one's string) as a float; None if it
    is neither."""
    if isinstance(value, str):
        return NON_FINITE.get(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
