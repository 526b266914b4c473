"""Read what a finished job left in its output dir.

The job's files are written by code we do not control, so they are untrusted input: what
is read is capped (size, nesting, keys, key length) and anything odd becomes a note on
the job, never an exception. One bad `metrics.json` used to end the whole run: deep
nesting blew the parser's recursion, a FIFO blocked the open forever, a key that is not
valid text broke summary.md and junit.xml after the JSON summary was written.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

METRICS_FILE = "metrics.json"
Metrics = tuple[tuple[str, float], ...]

#: A flat object of a thousand numbers with long names is about 130 KiB; the rest is room
#: for extras a script adds (a confusion matrix, its config), which are skipped. Reading
#: and parsing this much takes milliseconds, whatever the file holds.
MAX_METRICS_BYTES = 1024 * 1024
#: Every metric of every job goes into the summary, its junit `system-out`, and each
#: comparison with an earlier run; no table shows more than a few. Many thousands of keys
#: is a script dumping data by mistake, and carrying them made reports slow and huge.
MAX_METRICS_KEYS = 1000
#: A name that does not fit a table cell is not a metric name.
MAX_KEY_CHARS = 100
#: A flat object needs one level; per-class reports nested in it need a few. The cap is
#: checked before parsing, so `json` never recurses anywhere near the interpreter's limit.
MAX_DEPTH = 32
#: Names of skipped keys quoted in a note; the count says how many there were in all.
NAMES_SHOWN = 3

# A JSON string, up to its closing quote or the end of the text: the optional closing
# quote means an unterminated string still matches once, so the scan stays linear.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class _Ignored(Exception):
    """Why the whole file is unusable; becomes the job's note."""


def read_metrics(output_dir: str, since: float) -> tuple[Metrics, str | None]:
    """Numeric metrics from `metrics.json`, plus a note when some or all of it is unusable.

    A file older than the attempt is ignored: it was left by an earlier run, and reporting
    last week's accuracy as tonight's would be worse than reporting none.
    """
    try:
        raw = _read_capped(Path(output_dir) / METRICS_FILE, since)
    except FileNotFoundError:
        return (), None
    except _Ignored as why:
        return (), f"{METRICS_FILE} ignored: {why}"
    except OSError as exc:
        return (), f"{METRICS_FILE} ignored: unreadable ({exc.strerror or exc})"
    return parse_metrics(raw)


def _read_capped(path: Path, since: float) -> bytes:
    """At most `MAX_METRICS_BYTES` of a regular file that this attempt wrote.

    Opened non-blocking, because opening a FIFO to read waits for a writer that may never
    come; then anything but a regular file (a FIFO, `/dev/zero`, a directory) is refused
    before a byte is read. A symlink to a regular file is followed: reading it is harmless.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Ignored("not a regular file")
        if info.st_mtime < since - 1.0:
            raise _Ignored("it predates this run (left by an earlier one)")
        raw = handle.read(MAX_METRICS_BYTES + 1)
    if len(raw) > MAX_METRICS_BYTES:
        raise _Ignored(f"{max(info.st_size, len(raw))} bytes, over the 1 MiB cap")
    return raw


def parse_metrics(raw: bytes) -> tuple[Metrics, str | None]:
    """The numbers of a flat JSON object, keyed by printable names; never raises.

    Whole-file problems (not UTF-8, not JSON, not an object, too deep, too many keys)
    drop every metric; a bad entry (a value that is not a number, a boolean, a name that
    is not printable text of at most `MAX_KEY_CHARS`) drops only itself. Either way the
    note says what and how many. Integers are read as floats, so a 5,000-digit one is
    infinity rather than an error from the int-to-str digit limit.

    NaN and the infinities (`json` reads those tokens) are kept: a metric that became NaN
    is the news, and dropping it made a broken model pass as green. The note names them.
    """
    try:
        data = _load(raw)
    except _Ignored as why:
        return (), f"{METRICS_FILE} ignored: {why}"
    kept: list[tuple[str, float]] = []
    not_numbers: list[str] = []
    not_finite: list[str] = []
    bad_names = 0
    for key, value in data.items():
        if not valid_name(key):
            bad_names += 1
        elif not isinstance(value, float):  # ints arrive as floats; bools stay bools
            not_numbers.append(key)
        else:
            kept.append((key, value))
            if not math.isfinite(value):
                not_finite.append(key)
    return tuple(kept), _skipped_note(not_numbers, not_finite, bad_names)


def valid_name(key: str) -> bool:
    """A metric name every report can show: no control, format or surrogate characters
    (XML cannot hold some, UTF-8 cannot encode lone surrogates), on one line, not huge."""
    return 0 < len(key) <= MAX_KEY_CHARS and key.isprintable()


def _load(raw: bytes) -> dict[str, object]:
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is harmless; editors add one
    except UnicodeDecodeError as exc:
        raise _Ignored(f"not UTF-8 (invalid byte at offset {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise _Ignored(f"nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, parse_int=float)
    except ValueError as exc:
        raise _Ignored(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _Ignored(f"expected a JSON object, got {_json_type(data)}")
    if len(data) > MAX_METRICS_KEYS:
        raise _Ignored(f"{len(data)} keys, over the cap of {MAX_METRICS_KEYS}")
    return data


def _depth(text: str) -> int:
    """How deep brackets nest outside strings, counted up to just past `MAX_DEPTH`.

    A closing bracket with nothing open counts as nothing: `json` stops at it anyway.
    """
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            break
    return depth


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _skipped_note(
    not_numbers: Sequence[str], not_finite: Sequence[str], bad_names: int
) -> str | None:
    parts = []
    if not_numbers:
        parts.append(f"{_count(len(not_numbers), 'non-numeric value')} ({_names(not_numbers)})")
    if bad_names:
        parts.append(
            f"{_count(bad_names, 'key')} not printable text of 1-{MAX_KEY_CHARS} characters"
        )
    notes = ["skipped " + "; ".join(parts)] if parts else []
    if not_finite:
        notes.append(f"not a finite number: {_names(not_finite)}")
    return f"{METRICS_FILE}: " + "; ".join(notes) if notes else None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _names(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:NAMES_SHOWN])
    return shown + ", …" if len(keys) > NAMES_SHOWN else shown
