"""E-mail over SMTP with STARTTLS: the standard library's client, one message per call.

Imported only when a run has an e-mail target. Every way it can fail becomes `Retryable`
(the server may answer next time) or `Permanent` (it would refuse again).
"""

from __future__ import annotations

import email.message
import email.utils
import smtplib
import ssl
from collections.abc import Mapping
from pathlib import Path

from orchestrator.config import Email
from orchestrator.notify.send import Permanent, Retryable


def send_email(
    settings: Email,
    subject: str,
    body: str,
    *,
    env: Mapping[str, str],
    base: Path,
    timeout: float,
) -> None:
    message = email.message.EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    message.set_content(body)
    host = settings.host or env[settings.host_env or ""]
    username = settings.username or (
        env.get(settings.username_env) if settings.username_env else None
    )
    password = env.get(settings.password_env or "", "")
    try:
        context = _tls(settings, base) if settings.starttls else None
        with smtplib.SMTP(host, settings.port, timeout=timeout) as client:
            client.ehlo()
            if context is not None:
                client.starttls(context=context)
                client.ehlo()
            if username:
                client.login(username, password)
            client.send_message(message)
    except (
        smtplib.SMTPAuthenticationError,
        smtplib.SMTPRecipientsRefused,
        smtplib.SMTPSenderRefused,
    ) as exc:
        raise Permanent(f"the SMTP server refused: {_said(exc)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Permanent(f"{host}:{settings.port}: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code}: {_said(exc)}"
        raise (Permanent(error) if exc.smtp_code >= 500 else Retryable(error)) from None
    except ssl.SSLCertVerificationError as exc:
        raise Permanent(
            f"{host}:{settings.port}: TLS certificate not trusted ({exc.verify_message}); "
            "set ca_file?"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise Retryable(f"{host}:{settings.port}: {exc or type(exc).__name__}") from None


def _tls(settings: Email, base: Path) -> ssl.SSLContext:
    if settings.ca_file is None:
        return ssl.create_default_context()
    path = base / settings.ca_file
    if not path.is_file():
        raise Permanent(f"ca_file {settings.ca_file}: no such file")
    try:
        return ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise Permanent(
            f"ca_file {settings.ca_file}: not a PEM certificate ({exc.reason})"
        ) from None


def _said(exc: smtplib.SMTPException) -> str:
    detail = getattr(exc, "smtp_error", b"")
    text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail or exc)
    return " ".join(text.split())
