"""A `Message` in each channel's format: Slack blocks, a documented JSON, an e-mail.

The generic webhook's JSON is a contract with whatever receives it (README
"Notifications" documents it): fields are added, never renamed; `schema` says which.
"""

from __future__ import annotations

from typing import Any

from orchestrator.notify.message import Message

WEBHOOK_SCHEMA = "training-orchestrator/notification/1"


def text_lines(message: Message) -> list[str]:
    """The message as plain text: the e-mail's body, the webhook's `text`."""
    lines = [message.title]
    for failure in message.failures:
        optional = " (optional)" if failure.optional else ""
        reason = f": {failure.reason}" if failure.reason else ""
        lines.append(f"• {failure.job} {failure.status}{optional}{reason}")
    if message.more_failures:
        lines.append(f"• … and {message.more_failures} more failing jobs (see the summary)")
    lines += [f"• regression: {line}" for line in message.regressions]
    if message.links:
        lines.append(" · ".join(f"{label}: {url}" for label, url in message.links))
    return lines


def webhook_payload(message: Message) -> dict[str, Any]:
    text = "\n".join(text_lines(message))
    return {
        "schema": WEBHOOK_SCHEMA,
        # Microsoft Teams' and Mattermost's webhooks show `text`, Discord's `content`.
        "text": text,
        "content": text,
        "verdict": message.verdict,
        "previous_verdict": message.previous_verdict,
        "exit_code": message.exit_code,
        "project": message.project,
        "branch": message.branch,
        "commit": message.commit,
        "started_at": message.started_at,
        "duration_s": message.duration_s,
        "counts": dict(message.counts),
        "failures": [
            {"job": f.job, "status": f.status, "reason": f.reason, "optional": f.optional}
            for f in message.failures
        ],
        "more_failures": message.more_failures,
        "regressions": list(message.regressions),
        "links": dict(message.links),
    }


def slack_payload(message: Message) -> dict[str, Any]:
    """Blocks for the channel, `text` for notifications and clients without blocks."""
    blocks: list[dict[str, Any]] = [_section(f"*{_slack(message.title)}*")]
    failing = [
        f"• `{_slack(f.job)}` {f.status}{' (optional)' if f.optional else ''}"
        + (f": {_slack(f.reason)}" if f.reason else "")
        for f in message.failures
    ]
    if message.more_failures:
        failing.append(f"• … and {message.more_failures} more failing jobs")
    if failing:
        blocks.append(_section("\n".join(failing)))
    if message.regressions:
        lines = "\n".join(f"• {_slack(line)}" for line in message.regressions)
        blocks.append(_section(f"*Regressions*\n{lines}"))
    if message.links:
        links = " · ".join(f"<{url}|{_slack(label)}>" for label, url in message.links)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    return {"text": message.title, "blocks": blocks}


def email_parts(message: Message) -> tuple[str, str]:
    """The subject (the verdict first, so an inbox shows it) and the plain-text body."""
    subject = f"[{message.verdict}] {message.title.removeprefix(message.icon + ' ')}"
    return subject, "\n".join(text_lines(message)) + "\n"


#: Slack's mrkdwn needs these three escaped, and only these
#: (api.slack.com/reference/surfaces/formatting).
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
#: A section's text is limited to 3000 characters.
SECTION_LIMIT = 3000


def _slack(text: str) -> str:
    return text.translate(_SLACK_ESCAPES)


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
