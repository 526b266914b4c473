"""`notify:`: who hears about a run when it ends, checked when the config is loaded.

A list of targets, each a Slack incoming webhook, a generic JSON webhook or an e-mail
over SMTP, with `when` it is sent. A webhook's URL carries its credential, as an SMTP
password does: both come only from environment variables the file names (`url_env`,
`password_env`, filled from CI secrets), and a literal one in the file is refused, since
config files are committed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from orchestrator.config.document import Document, KeyPath, Value
from orchestrator.config.validate import (
    one_or_more_of,
    positive_seconds,
    scalar_text,
    text,
    text_list,
    type_name,
    whole_number,
)
from orchestrator.errors import did_you_mean
from orchestrator.frozen_dataclass import frozen_dataclass

KINDS = ("slack", "webhook", "email")
WHEN = ("always", "failure", "regression", "change")
DEFAULT_WHEN = ("failure",)
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

COMMON = ("kind", "name", "when", "timeout", "retries")
KEYS = {
    "slack": (*COMMON, "url_env"),
    "webhook": (*COMMON, "url_env"),
    "email": (
        *COMMON,
        "host",
        "host_env",
        "port",
        "starttls",
        "ca_file",
        "from",
        "to",
        "username",
        "username_env",
        "password_env",
    ),
}
#: Keys that would put a credential in a committed file, and what to write instead.
LITERAL_SECRETS = {"url": "url_env", "webhook_url": "url_env", "password": "password_env"}


@frozen_dataclass
class Email:
    """SMTP settings; `host_env`/`username_env` read them from CI secrets when set."""

    sender: str
    to: tuple[str, ...]
    host: str | None = None
    host_env: str | None = None
    port: int = 587
    starttls: bool = True
    #: A CA bundle to trust (e.g. a test server's self-signed certificate), else the system's.
    ca_file: str | None = None
    username: str | None = None
    username_env: str | None = None
    password_env: str | None = None


@frozen_dataclass
class NotifyTarget:
    """One place a run's end is told to, and when."""

    name: str
    kind: str
    when: tuple[str, ...] = DEFAULT_WHEN
    #: Seconds per attempt; with `retries`, what bounds this target's time.
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    url_env: str | None = None
    email: Email | None = None

    @property
    def env_names(self) -> tuple[str, ...]:
        """The variables holding its credentials: masked wherever they could show."""
        names = [self.url_env]
        if self.email:
            names += [self.email.password_env, self.email.username_env, self.email.host_env]
        return tuple(name for name in names if name)


@frozen_dataclass
class Notify:
    """The run's targets, and how `compare` judges its jobs' metrics (`when: regression`)."""

    targets: tuple[NotifyTarget, ...]
    #: `metric_directions` and `regress_tolerance` of each job that sets them.
    directions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    tolerances: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def notify(doc: Document, keys: KeyPath, value: Value) -> tuple[NotifyTarget, ...]:
    """The `notify:` list (one mapping alone is taken as a list of one)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise doc.error(keys, f"expected a list of targets, got {type_name(value)}")
    targets = [_target(doc, (*keys, str(n)), item) for n, item in enumerate(items)]
    names = [target.name for target in targets]
    for number, name in enumerate(names):
        if name in names[:number]:
            raise doc.error((*keys, str(number)), f"a second target named {name!r}; add name:")
    return tuple(targets)


def _target(doc: Document, keys: KeyPath, value: Value) -> NotifyTarget:
    if not isinstance(value, dict):
        raise doc.error(
            keys, f"expected a mapping with kind: slack/webhook/email, got {type_name(value)}"
        )
    if "kind" not in value:
        raise doc.error(keys, f"missing 'kind': one of {', '.join(KINDS)}")
    kind = scalar_text(doc, (*keys, "kind"), value["kind"])
    if kind not in KINDS:
        raise doc.error((*keys, "kind"), f"expected one of {', '.join(KINDS)}, got {kind!r}")
    for name in value:
        _known(doc, (*keys, str(name)), kind)
    fields: dict[str, Any] = {
        "name": text(doc, (*keys, "name"), value.get("name", kind)),
        "kind": kind,
        "when": one_or_more_of(*WHEN)(doc, (*keys, "when"), value.get("when", list(DEFAULT_WHEN))),
        "timeout": positive_seconds(doc, (*keys, "timeout"), value.get("timeout", DEFAULT_TIMEOUT)),
        "retries": whole_number(0)(doc, (*keys, "retries"), value.get("retries", DEFAULT_RETRIES)),
    }
    if kind == "email":
        fields["email"] = _email(doc, keys, value)
    else:
        fields["url_env"] = _env_name(doc, keys, value, "url_env", required=True)
    return NotifyTarget(**fields)


def _known(doc: Document, keys: KeyPath, kind: str) -> None:
    name = keys[-1]
    if name in LITERAL_SECRETS:
        instead = LITERAL_SECRETS[name]
        raise doc.error(
            keys,
            f"a {'password' if instead == 'password_env' else 'webhook URL'} in a config file "
            f"ends up in git; put it in an environment variable (a CI secret) and name that "
            f"variable with {instead}:",
        )
    if name not in KEYS[kind]:
        raise doc.error(keys, f"unknown key for a {kind} target", did_you_mean(name, KEYS[kind]))


def _env_name(
    doc: Document, keys: KeyPath, value: dict[str, Any], key: str, *, required: bool = False
) -> str | None:
    if key not in value:
        if required:
            raise doc.error(keys, f"missing '{key}': the environment variable holding it")
        return None
    name = scalar_text(doc, (*keys, key), value[key])
    if not re.match(ENV_NAME, name):
        what = "a URL" if "://" in name else repr(name)
        raise doc.error(
            (*keys, key),
            f"expected the name of an environment variable (like SLACK_WEBHOOK_URL), got {what}",
        )
    return name


def _email(doc: Document, keys: KeyPath, value: dict[str, Any]) -> Email:
    for required in ("from", "to"):
        if required not in value:
            raise doc.error(keys, f"missing '{required}' for an email target")
    if "host" not in value and "host_env" not in value:
        raise doc.error(keys, "missing 'host' (or 'host_env') for an email target")
    username = value.get("username")
    port = whole_number(1)(doc, (*keys, "port"), value.get("port", 587))
    if port > 65535:
        raise doc.error((*keys, "port"), f"must be at most 65535, got {port}")
    starttls = value.get("starttls", True)
    if not isinstance(starttls, bool):
        raise doc.error((*keys, "starttls"), f"expected true or false, got {type_name(starttls)}")
    email = Email(
        sender=_address(doc, (*keys, "from"), value["from"]),
        to=tuple(
            _address(doc, (*keys, "to"), item)
            for item in text_list(doc, (*keys, "to"), value["to"])
        ),
        host=text(doc, (*keys, "host"), value["host"]) if "host" in value else None,
        host_env=_env_name(doc, keys, value, "host_env"),
        port=port,
        starttls=starttls,
        ca_file=text(doc, (*keys, "ca_file"), value["ca_file"]) if "ca_file" in value else None,
        username=text(doc, (*keys, "username"), username) if username is not None else None,
        username_env=_env_name(doc, keys, value, "username_env"),
        password_env=_env_name(doc, keys, value, "password_env"),
    )
    if email.password_env and not (email.username or email.username_env):
        raise doc.error((*keys, "password_env"), "a password needs a username (or username_env)")
    return email


def _address(doc: Document, keys: KeyPath, value: Value) -> str:
    address = text(doc, keys, value)
    if not re.match(r"^[^@\s<>]+@[^@\s<>]+$", address.strip()):
        raise doc.error(
            keys, f"expected an e-mail address like ml-team@example.com, got {address!r}"
        )
    return address.strip()


NOTIFY_SCHEMA: dict[str, Any] = {
    "description": 'who is told when a run ends (README "Notifications")',
    "type": "array",
    "items": {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"enum": list(KINDS)},
            "name": {"type": "string"},
            "when": {
                "anyOf": [{"enum": list(WHEN)}, {"type": "array", "items": {"enum": list(WHEN)}}]
            },
            "timeout": {"type": "number", "exclusiveMinimum": 0},
            "retries": {"type": "integer", "minimum": 0},
            "url_env": {"type": "string", "pattern": ENV_NAME},
            "host": {"type": "string"},
            "host_env": {"type": "string", "pattern": ENV_NAME},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "starttls": {"type": "boolean"},
            "ca_file": {"type": "string"},
            "from": {"type": "string"},
            "to": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "username": {"type": "string"},
            "username_env": {"type": "string", "pattern": ENV_NAME},
            "password_env": {"type": "string", "pattern": ENV_NAME},
        },
        "not": {"anyOf": [{"required": [key]} for key in LITERAL_SECRETS]},
    },
}
