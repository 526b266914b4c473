"""Keep secrets out of everything the orchestrator writes or prints.

A value counts as secret when its environment variable's name says so (TOKEN, SECRET,
PASSWORD, KEY, ...) or is listed under a job's `redact:`. The job still gets the real value;
logs' headers, console output, the journal and summaries show `***` wherever it appears.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")
MASK = "***"
#: Shorter values are not masked: replacing "1" or "on" everywhere would garble the text.
MIN_SECRET_LENGTH = 4


def is_secret_name(name: str, listed: Iterable[str] = ()) -> bool:
    return name in set(listed) or _named_secret(name)


@functools.lru_cache(maxsize=4096)
def _named_secret(name: str) -> bool:
    """Cached: every job's env holds the same few names; 10,000 jobs asked 180,000 times."""
    return any(word in name.upper() for word in SECRET_WORDS)


def secret_values(env: Mapping[str, str], listed: Iterable[str] = ()) -> tuple[str, ...]:
    names = set(listed)
    values = {v for k, v in env.items() if is_secret_name(k, names) and len(v) >= MIN_SECRET_LENGTH}
    return tuple(sorted(values, key=len, reverse=True))  # longest first: no partial leftovers


def redact(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def redact_tree(value: Any, secrets: Iterable[str]) -> Any:
    """A JSON-like value with secrets masked in every string (e.g. the options' extra args)."""
    secrets = tuple(sorted(secrets, key=len, reverse=True))
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {key: redact_tree(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(item, secrets) for item in value]
    return value


def mask(name: str, value: str, listed: Iterable[str] = ()) -> str:
    """An env value for display: hidden when its name says it is secret."""
    return MASK if is_secret_name(name, listed) else value


def redact_file(path: Path, secrets: Iterable[str]) -> None:
    """Mask secrets a job printed into its own log, streaming: logs can be gigabytes.

    The child writes straight to the file, so this runs once its attempt has ended; the
    file is rewritten only when a secret is actually in it.
    """
    needles = [s.encode() for s in secrets]
    if needles and any(True for _ in _stream(path, needles, found_only=True)):
        tmp = path.with_name(f".{path.name}.redacting")
        with tmp.open("wb") as target:
            for block in _stream(path, needles, found_only=False):
                target.write(block)
        tmp.replace(path)


def _stream(path: Path, needles: list[bytes], *, found_only: bool) -> Iterator[bytes]:
    """The file's bytes with needles masked; a needle split across two reads is still
    found, because the tail of each read waits for the next. With `found_only`, yields
    once at the first needle and stops."""
    keep = max(len(n) for n in needles) - 1
    with path.open("rb") as source:
        carry = b""
        while block := source.read(1 << 20):
            buffer = carry + block
            for needle in needles:
                if needle in buffer:
                    if found_only:
                        yield b""
                        return
                    buffer = buffer.replace(needle, MASK.encode())
            cut = max(0, len(buffer) - keep)
            if not found_only:
                yield buffer[:cut]
            carry = buffer[cut:]
        if not found_only:
            yield carry
