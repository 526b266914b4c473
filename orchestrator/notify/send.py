"""Delivering a message to each target: bounded retries, bounded time, never an exception.

A channel that is down, slow, refusing or misconfigured is an `Outcome` that says so
(its credentials masked), never a failed run: the jobs' results are already written.
Each attempt has its target's timeout; failures that may pass (a timeout, a refused
connection, HTTP 429 or 5xx, an SMTP 4xx) are retried with a doubling backoff; all targets
together stop at `TOTAL_BUDGET` seconds, so a CI step never hangs on a webhook.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import NotifyTarget
from orchestrator.notify.message import Message
from orchestrator.notify.render import email_parts, slack_payload, webhook_payload
from orchestrator.secrets import MIN_SECRET_LENGTH, redact

#: Seconds for all targets together, retries and waits included.
TOTAL_BUDGET = 60.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 8.0
USER_AGENT = "training-orchestrator (notify)"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One target's result, as the summary's `notifications` records it."""

    target: str
    kind: str
    status: str  # "sent", "failed" or "skipped"
    attempts: int = 0
    #: Why it failed or was skipped; secrets masked.
    error: str | None = None

    def document(self) -> dict[str, Any]:
        found = {"target": self.target, "kind": self.kind, "status": self.status}
        return {**found, "attempts": self.attempts, **({"error": self.error} if self.error else {})}


class Retryable(Exception):
    """A failure that may pass on another attempt."""


class Permanent(Exception):
    """A failure another attempt would repeat (a 404 webhook, a refused login)."""


@dataclass
class Budget:
    """What is left of `TOTAL_BUDGET`; the clock and the sleep are the tests' to replace."""

    seconds: float = TOTAL_BUDGET
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    @property
    def left(self) -> float:
        return self.deadline - self.clock()


def deliver(
    target: NotifyTarget, message: Message, env: Mapping[str, str], base: Path, budget: Budget
) -> Outcome:
    """Send to one target if its `when` holds; whatever happens, an `Outcome`."""
    if not message.should_send(target.when):
        why = f"when: {', '.join(target.when)} does not hold (run {message.verdict})"
        return Outcome(target.name, target.kind, "skipped", error=why)
    missing = [name for name in target.env_names if not env.get(name)]
    if missing:
        return Outcome(target.name, target.kind, "skipped", error=f"{missing[0]} is not set")
    secrets = secret_values(target, env)
    send = _sender(target, message, env, base)
    attempts, wait = 0, FIRST_BACKOFF
    while True:
        attempts += 1
        try:
            send(min(target.timeout, max(budget.left, 0.001)))
            return Outcome(target.name, target.kind, "sent", attempts)
        except Permanent as exc:
            return _failed(target, attempts, str(exc), secrets)
        except Retryable as exc:
            error = str(exc)
        except Exception as exc:  # the results are written: a message never loses them
            return _failed(target, attempts, f"{type(exc).__name__}: {exc}", secrets)
        if attempts > target.retries or budget.left <= wait:
            out_of_time = attempts <= target.retries
            note = f"{error} (out of time after {attempts} attempts)" if out_of_time else error
            return _failed(target, attempts, note, secrets)
        budget.sleep(wait)
        wait = min(wait * 2, MAX_BACKOFF)


def _failed(target: NotifyTarget, attempts: int, error: str, secrets: list[str]) -> Outcome:
    return Outcome(target.name, target.kind, "failed", attempts, redact(error, secrets))


def secret_values(target: NotifyTarget, env: Mapping[str, str]) -> list[str]:
    """What must never show: each credential, and a webhook URL's path on its own (an
    error may quote the path without the host)."""
    values = [env.get(name, "") for name in target.env_names]
    if target.url_env and env.get(target.url_env):
        with contextlib.suppress(ValueError):  # a malformed URL: the whole value is masked
            values.append(urllib.parse.urlsplit(env[target.url_env]).path)
    found = {value for value in values if len(value) >= MIN_SECRET_LENGTH and value != "/"}
    return sorted(found, key=len, reverse=True)


def _sender(
    target: NotifyTarget, message: Message, env: Mapping[str, str], base: Path
) -> Callable[[float], None]:
    if target.email is not None:
        from orchestrator.notify.smtp import send_email

        subject, body = email_parts(message)
        settings = target.email
        return lambda timeout: send_email(
            settings, subject, body, env=env, base=base, timeout=timeout
        )
    payload = slack_payload(message) if target.kind == "slack" else webhook_payload(message)
    url = env[target.url_env or ""]
    return lambda timeout: post_json(url, payload, timeout)


def post_json(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST the payload; a 2xx answer is success."""
    try:
        _post(url, payload, timeout)
    except (ValueError, http.client.InvalidURL):  # its text would quote the URL's credential
        raise Permanent("not a valid URL") from None


def _post(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):  # urllib also opens file:// and ftp://
        raise Permanent(f"not an http(s) URL (scheme {scheme or 'none'!r})")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: closed here, not whenever it is collected
            said = exc.read(200).decode("utf-8", "replace").strip()
        error = f"HTTP {exc.code} {exc.reason}" + (f": {said}" if said else "")
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise Retryable(error) from None
        raise Permanent(error) from None
    except urllib.error.URLError as exc:
        raise Retryable(f"cannot reach the webhook: {exc.reason}") from None
    except TimeoutError:
        raise Retryable(f"no answer within {timeout:.3g}s") from None
    except OSError as exc:  # reset mid-answer, and the like
        raise Retryable(str(exc)) from None
