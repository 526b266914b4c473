"""Keep secrets out of everything the orchestrator writes or prints.

A value counts as secret when its environment variable's name says so (TOKEN, SECRET,
PASSWORD, KEY, ...) or is listed under a job's `redact:`. The job still gets the real value;
logs' headers, console output, the journal and summaries show `***` wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")
MASK = "***"
#: Shorter values are not masked: replacing "1" or "on" everywhere would garble the text.
MIN_SECRET_LENGTH = 4


def is_secret_name(name: str, listed: Iterable[str] = ()) -> bool:
    return name in set(listed) or any(word in name.upper() for word in SECRET_WORDS)


def secret_values(env: Mapping[str, str], listed: Iterable[str] = ()) -> tuple[str, ...]:
    names = set(listed)
    values = {v for k, v in env.items() if is_secret_name(k, names) and len(v) >= MIN_SECRET_LENGTH}
    return tuple(sorted(values, key=len, reverse=True))  # longest first: no partial leftovers


def redact(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def mask(name: str, value: str, listed: Iterable[str] = ()) -> str:
    """An env value for display: hidden when its name says it is secret."""
    return MASK if is_secret_name(name, listed) else value
