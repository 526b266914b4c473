"""Notification messages as values: summaries in, the message and each channel's form out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from conftest import summary_document

from orchestrator.config import Notify
from orchestrator.notify import build_message
from orchestrator.notify.message import MAX_LISTED, Message, mlflow_link
from orchestrator.notify.render import email_parts, slack_payload, text_lines, webhook_payload
from orchestrator.run_summary import RunSummary, from_document


def summary(*jobs: dict[str, Any], **fields: Any) -> RunSummary:
    document = summary_document(
        [{"metrics": {}, **job} for job in jobs],
        started_at="2026-11-25T22:41:07Z",
        commit="a1b2c3d4e5f6",
        check=False,
    )
    return from_document({**document, **fields}, "test")


def message(head: RunSummary, base: RunSummary | None = None, **env: str) -> Message:
    return build_message(head, base, Notify(()), env, project="proj", branch="main")


PASSED = summary({"id": "rf", "status": "succeeded", "metrics": {"accuracy": 0.96}})
FAILED = summary({"id": "rf", "status": "failed", "reason": "exit 1"})


@pytest.mark.parametrize(
    ("head", "base", "when", "sent"),
    [
        (PASSED, None, ("always",), True),
        (PASSED, None, ("failure",), False),
        (FAILED, None, ("failure",), True),
        (PASSED, None, ("change",), True),  # a first run is news
        (PASSED, PASSED, ("change",), False),
        (FAILED, PASSED, ("change",), True),
        (PASSED, FAILED, ("change",), True),  # fixed: news too
        (FAILED, FAILED, ("change",), False),
        (FAILED, PASSED, ("regression",), True),  # newly failing
        (PASSED, None, ("regression",), False),  # nothing to compare with
        (PASSED, PASSED, ("failure", "regression"), False),
    ],
)
def test_when_a_target_is_told(
    head: RunSummary, base: RunSummary | None, when: tuple[str, ...], sent: bool
) -> None:
    assert message(head, base).should_send(when) is sent


def test_a_metric_worse_than_its_tolerance_is_a_regression() -> None:
    worse = summary({"id": "rf", "status": "succeeded", "metrics": {"accuracy": 0.90}})
    assert message(worse, PASSED).regressions == ("rf: accuracy 0.96 → 0.9 (-6.2%)",)
    loose = build_message(
        worse,
        PASSED,
        Notify((), tolerances={"rf": {"accuracy": 0.1}}),
        {},
        project="p",
        branch=None,
    )
    assert loose.regressions == ()


def test_the_message_lists_failures_in_one_line_each_and_counts_the_rest() -> None:
    jobs = [
        {"id": f"job{n:02d}", "status": "failed", "reason": f"exit {n}\nTraceback ..."}
        for n in range(MAX_LISTED + 3)
    ]
    trials = [{"id": f"s[trial={n}]", "status": "pruned", "tags": ["sweep:s"]} for n in range(4)]
    long = {"id": "long", "status": "timed_out", "reason": "x" * 500, "optional": True}
    got = message(summary(long, *jobs, *trials, {"id": "s", "status": "succeeded"}))
    assert got.counts == {"timed_out": 1, "failed": MAX_LISTED + 3, "succeeded": 1}
    assert [f.job for f in got.failures] == ["long", *(f"job{n:02d}" for n in range(9))]
    assert got.failures[1].reason == "exit 0"
    assert got.failures[0].reason == "x" * 199 + "…"
    assert got.more_failures == 4
    lines = text_lines(got)
    assert lines[0] == "❌ proj on main (a1b2c3d): 1 succeeded · 13 failed · 1 timed out · 10.0s"
    assert lines[1] == f"• long timed_out (optional): {'x' * 199}…"
    assert lines[-1] == "• … and 4 more failing jobs (see the summary)"


def test_links_and_names_come_from_github_when_there() -> None:
    env = {
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_RUN_ID": "7",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_SERVER_URL": "https://ghe.example/",
    }
    got = message(PASSED, **env)
    assert got.links == (
        ("GitHub run", "https://ghe.example/acme/models/actions/runs/7/attempts/2"),
    )
    assert got.title == "✅ acme/models on main (a1b2c3d): 1 succeeded · 10.0s"
    assert message(PASSED).links == ()  # not in Actions, no tracking: no links


def test_an_interrupted_run_says_so() -> None:
    stopped = summary({"id": "rf", "status": "cancelled"}, interrupted_by="SIGINT", exit_code=130)
    assert message(stopped).verdict == "interrupted"
    subject, _ = email_parts(message(stopped))
    assert subject == "[interrupted] proj on main (a1b2c3d): 1 cancelled · 10.0s"


def test_slack_text_is_escaped_and_sections_are_capped() -> None:
    odd = summary({"id": "<!channel>&", "status": "failed", "reason": "<b>" + "y" * 4000})
    payload = slack_payload(message(odd))
    failing = payload["blocks"][1]["text"]["text"]
    assert failing.startswith("• `&lt;!channel&gt;&amp;` failed: &lt;b&gt;yyy")
    assert len(failing) <= 3000
    assert payload["text"].startswith("❌ proj")


def test_the_webhook_json_has_every_documented_field() -> None:
    payload = webhook_payload(message(FAILED, PASSED))
    assert payload == {
        "schema": "training-orchestrator/notification/1",
        "text": payload["content"],
        "content": "❌ proj on main (a1b2c3d): 1 failed · 10.0s\n• rf failed: exit 1\n"
        "• regression: rf: newly failing (succeeded → failed)",
        "verdict": "failed",
        "previous_verdict": "passed",
        "exit_code": 1,
        "project": "proj",
        "branch": "main",
        "commit": "a1b2c3d4e5f6",
        "started_at": "2026-11-25T22:41:07Z",
        "duration_s": 10.0,
        "counts": {"failed": 1},
        "failures": [{"job": "rf", "status": "failed", "reason": "exit 1", "optional": False}],
        "more_failures": 0,
        "regressions": ["rf: newly failing (succeeded → failed)"],
        "links": {},
    }


def test_the_mlflow_link_is_read_from_the_summarys_tracking_field() -> None:
    tracked = SimpleNamespace(
        tracking={"ui_url": "http://mlflow:5000/", "experiment_id": "3", "parent_run_id": "ab12"}
    )
    assert mlflow_link(tracked) == "http://mlflow:5000/#/experiments/3/runs/ab12"  # type: ignore[arg-type]
    local = SimpleNamespace(tracking={"uri": "sqlite:///x.db", "experiment_id": "3"})
    assert mlflow_link(local) is None  # type: ignore[arg-type]
    assert mlflow_link(PASSED) is None
