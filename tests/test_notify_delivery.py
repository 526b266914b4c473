"""Notifications reaching real servers: a local HTTP server and a local SMTP server.

One HTTP server and one SMTP server (STARTTLS with a certificate made here, and a login)
serve the whole module. Delivery is called in process where only delivery is tested, with
a fake clock where only the waits between attempts are; whole runs go through the CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SHIM, Project, summary_document
from notify_servers import Hooks, Mailbox, start_hooks, start_smtp

from orchestrator.config import Email, Notify, NotifyTarget
from orchestrator.notify import build_message
from orchestrator.notify.message import Message
from orchestrator.notify.render import webhook_payload
from orchestrator.notify.send import Budget, Outcome, deliver
from orchestrator.run_summary import from_document

SMTP_USER, SMTP_PASSWORD = "ci-bot", "s3cret-smtp-pass"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    found, server = start_hooks()
    yield found
    found.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    box, controller = start_smtp(
        tmp_path_factory.mktemp("smtp"), user=SMTP_USER, password=SMTP_PASSWORD
    )
    yield box
    controller.stop()


def failing_message() -> Message:
    jobs = [
        {
            "id": "rf",
            "status": "gate_failed",
            "reason": "accuracy 0.71 fails >= 0.8\nsecond line never shown",
            "metrics": {"accuracy": 0.71},
        },
        {"id": "xgb", "status": "succeeded", "metrics": {"rmse": 50.0}},
    ]
    summary = from_document(
        summary_document(jobs, started_at="2026-11-25T22:41:07Z", commit="a1b2c3d4e5", check=False),
        "t",
    )
    return build_message(summary, None, Notify(()), {}, project="models", branch="main")


def target(kind: str = "webhook", **fields: Any) -> NotifyTarget:
    return NotifyTarget(name=kind, kind=kind, when=("always",), **fields)


class FakeTime:
    """A clock the waits advance, so backoff is asserted without being waited out."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def send(hooks: Hooks, path: str, *, budget: Budget | None = None, **fields: Any) -> Outcome:
    env = {"HOOK": hooks.url + path}
    fake = FakeTime()
    budget = budget or Budget(clock=lambda: fake.now, sleep=fake.sleep)
    return deliver(target(url_env="HOOK", **fields), failing_message(), env, Path(), budget)


# ---------------------------------------------------------------------------- webhooks
def test_the_webhook_gets_the_documented_json(hooks: Hooks) -> None:
    outcome = send(hooks, "/ok/payload")
    assert outcome == Outcome("webhook", "webhook", "sent", 1)
    [got] = hooks.to("/ok/payload")
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.body == webhook_payload(failing_message())
    assert got.body["failures"] == [
        {
            "job": "rf",
            "status": "gate_failed",
            "reason": "accuracy 0.71 fails >= 0.8",
            "optional": False,
        }
    ]
    assert got.body["text"].splitlines()[0] == (
        "❌ models on main (a1b2c3d): 1 succeeded · 1 gate failed · 10.0s"
    )


def test_a_500_is_retried_with_backoff_until_it_is_taken(hooks: Hooks) -> None:
    fake = FakeTime()
    budget = Budget(clock=lambda: fake.now, sleep=fake.sleep)
    outcome = send(hooks, "/fail/2/a", retries=3, budget=budget)
    assert outcome == Outcome("webhook", "webhook", "sent", 3)
    assert hooks.hits["/fail/2/a"] == 3
    assert fake.waits == [0.5, 1.0]


def test_retries_are_bounded_and_the_error_is_kept(hooks: Hooks) -> None:
    outcome = send(hooks, "/always500/b", retries=2)
    assert outcome == Outcome(
        "webhook", "webhook", "failed", 3, "HTTP 500 Internal Server Error: ok"
    )
    assert hooks.hits["/always500/b"] == 3


def test_the_total_budget_stops_retries_early(hooks: Hooks) -> None:
    fake = FakeTime()
    budget = Budget(seconds=2.0, clock=lambda: fake.now, sleep=fake.sleep)
    outcome = send(hooks, "/always500/c", retries=50, budget=budget)
    assert outcome.status == "failed"
    assert outcome.attempts == 3  # waits 0.5 and 1.0; a third wait of 2.0 would pass the end
    assert outcome.error == "HTTP 500 Internal Server Error: ok (out of time after 3 attempts)"


def test_a_404_is_not_retried_and_the_url_it_echoes_is_masked(hooks: Hooks) -> None:
    outcome = send(hooks, "/gone/T0KEN-in-the-path", retries=3)
    assert outcome == Outcome(
        "webhook", "webhook", "failed", 1, "HTTP 404 Not Found: no such hook ***"
    )


def test_a_server_that_never_answers_times_out_each_attempt(hooks: Hooks) -> None:
    outcome = send(hooks, "/slow/d", retries=1, timeout=0.3)
    assert outcome == Outcome("webhook", "webhook", "failed", 2, "no answer within 0.3s")
    assert hooks.hits["/slow/d"] == 2


def test_refused_connections_and_odd_urls_fail_without_raising() -> None:
    message, budget = failing_message(), Budget(sleep=lambda _: None)
    down = deliver(target(url_env="H"), message, {"H": "http://127.0.0.1:9/x"}, Path(), budget)
    assert down.status == "failed"
    assert down.error == "cannot reach the webhook: [Errno 111] Connection refused"
    local = deliver(target(url_env="H"), message, {"H": "file:///etc/passwd"}, Path(), budget)
    assert local == Outcome("webhook", "webhook", "failed", 1, "not an http(s) URL (scheme 'file')")
    for odd in ("http://[::1", "http://hooks.example/a b", "http://x\ny/T0KEN"):
        bad = deliver(target(url_env="H"), message, {"H": odd}, Path(), budget)
        assert bad == Outcome("webhook", "webhook", "failed", 1, "not a valid URL")
    unset = deliver(target(url_env="H"), message, {}, Path(), budget)
    assert unset == Outcome("webhook", "webhook", "skipped", 0, "H is not set")


# ---------------------------------------------------------------------------- e-mail
def email_target(box: Mailbox, **fields: Any) -> NotifyTarget:
    settings = {
        "sender": "ci@example.com",
        "to": ("ml-team@example.com", "lead@example.com"),
        "host": "127.0.0.1",
        "port": box.port,
        "ca_file": str(box.cert),
        "username": SMTP_USER,
        "password_env": "SMTP_PASSWORD",
        **fields,
    }
    return target("email", email=Email(**settings), timeout=5)


def mail(box: Mailbox, password: str = SMTP_PASSWORD, **fields: Any) -> Outcome:
    env = {"SMTP_PASSWORD": password}
    budget = Budget(sleep=lambda _: None)
    return deliver(email_target(box, **fields), failing_message(), env, Path(), budget)


def test_the_mail_goes_over_starttls_with_a_login(mailbox: Mailbox) -> None:
    before = len(mailbox.messages)
    assert mail(mailbox) == Outcome("email", "email", "sent", 1)
    got = mailbox.messages[before]
    assert (
        got["Subject"] == "[failed] models on main (a1b2c3d): 1 succeeded · 1 gate failed · 10.0s"
    )
    assert got["From"] == "ci@example.com"
    assert got["To"] == "ml-team@example.com, lead@example.com"
    assert got.get_content().splitlines()[1:] == ["• rf gate_failed: accuracy 0.71 fails >= 0.8"]
    assert mailbox.logins[-1] == (SMTP_USER, SMTP_PASSWORD)


def test_an_untrusted_certificate_or_a_bad_login_fails_once_and_masks(mailbox: Mailbox) -> None:
    untrusted = mail(mailbox, ca_file=None)
    assert untrusted.status == "failed"
    assert untrusted.attempts == 1
    assert untrusted.error is not None
    assert "TLS certificate not trusted (self-signed certificate); set ca_file?" in untrusted.error
    refused = mail(mailbox, password="wrong-password")
    assert refused.status == "failed"
    assert refused.attempts == 1
    assert refused.error is not None
    assert refused.error.startswith("the SMTP server refused: ")
    assert "wrong-password" not in refused.error


def test_a_missing_ca_file_is_said_plainly(mailbox: Mailbox, tmp_path: Path) -> None:
    outcome = mail(mailbox, ca_file=str(tmp_path / "nope.pem"))
    assert outcome.error == f"ca_file {tmp_path / 'nope.pem'}: no such file"


# ---------------------------------------------------------------------------- whole runs
PRINTS_ENV = """
import argparse, json, os, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
out = pathlib.Path(parser.parse_args().output_dir)
out.mkdir(parents=True, exist_ok=True)
print("webhook is", os.environ.get("SLACK_WEBHOOK_URL"))
accuracy = 0.5 if pathlib.Path("worse").exists() else 0.9
(out / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
"""


def run_project(project: Project, hooks: Hooks, mailbox: Mailbox, slack: str) -> None:
    project.script("training/train_clf.py", PRINTS_ENV)
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          clf: {{gates: {{accuracy: ">= 0.8"}}, cache: false}}
        notify:
          - {{kind: slack, url_env: SLACK_WEBHOOK_URL, when: [failure, regression]}}
          - {{kind: webhook, name: ours, url_env: OUR_HOOK, when: change, retries: 1}}
          - kind: email
            when: always
            host: 127.0.0.1
            port: {mailbox.port}
            ca_file: {mailbox.cert}
            from: ci@example.com
            to: ml-team@example.com
            username: {SMTP_USER}
            password_env: SMTP_PASSWORD
        """,
    )


def test_a_run_notifies_each_target_when_its_rule_holds(
    project: Project, hooks: Hooks, mailbox: Mailbox
) -> None:
    slack = f"{hooks.url}/ok/services/T000/B000/XXXXslacktoken"
    run_project(project, hooks, mailbox, slack)
    env = {
        "SLACK_WEBHOOK_URL": slack,
        "OUR_HOOK": f"{hooks.url}/ok/ours",
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SERVER_URL": "https://github.example",
    }
    first = project.run(env=env)
    assert first.returncode == 0, first.stderr
    outcomes = [(n["target"], n["status"]) for n in project.summary()["notifications"]]
    assert outcomes == [("slack", "skipped"), ("ours", "sent"), ("email", "sent")]
    assert "notify ours (webhook): sent\nnotify email: sent\n" in first.stdout
    assert hooks.to("/ok/ours")[-1].body["links"] == {
        "GitHub run": "https://github.example/acme/models/actions/runs/42"
    }
    log = (project.root / "logs/clf.log").read_text()
    assert "webhook is ***" in log
    assert "XXXXslacktoken" not in log

    (project.root / "worse").write_text("")
    second = project.run(env=env)
    assert second.returncode == 1  # the gate; the notifications change nothing
    notes = {n["target"]: n for n in project.summary()["notifications"]}
    assert [notes[t]["status"] for t in ("slack", "ours", "email")] == ["sent", "sent", "sent"]
    [slack_got] = hooks.to("/ok/services/T000/B000/XXXXslacktoken")
    blocks = slack_got.body["blocks"]
    assert slack_got.body["text"].startswith("❌ acme/models")
    assert blocks[1]["text"]["text"] == "• `clf` gate_failed: accuracy 0.5 fails &gt;= 0.8"
    assert blocks[2]["text"]["text"] == (
        "*Regressions*\n• clf: newly failing (succeeded → gate_failed)\n"
        "• clf: accuracy 0.9 → 0.5 (-44.4%)"
    )
    assert blocks[3]["elements"][0]["text"] == (
        "<https://github.example/acme/models/actions/runs/42|GitHub run>"
    )


def test_a_dead_webhook_is_a_warning_and_never_changes_the_exit_code(
    project: Project, hooks: Hooks, mailbox: Mailbox
) -> None:
    run_project(project, hooks, mailbox, "")
    env = {"SLACK_WEBHOOK_URL": "x", "OUR_HOOK": f"{hooks.url}/always500/token-e"}
    result = project.run(env=env)
    assert result.returncode == 0
    assert (
        "warning: notify ours (webhook): not sent: HTTP 500 Internal Server Error: ok; "
        "the run's result stands"
    ) in result.stderr
    assert "warning: notify email: not sent: SMTP_PASSWORD is not set" in result.stderr
    assert project.summary()["notifications"] == [
        {
            "target": "slack",
            "kind": "slack",
            "status": "skipped",
            "attempts": 0,
            "error": "when: failure, regression does not hold (run passed)",
        },
        {
            "target": "ours",
            "kind": "webhook",
            "status": "failed",
            "attempts": 2,
            "error": "HTTP 500 Internal Server Error: ok",
        },
        {
            "target": "email",
            "kind": "email",
            "status": "skipped",
            "attempts": 0,
            "error": "SMTP_PASSWORD is not set",
        },
    ]


def test_ctrl_c_while_a_webhook_hangs_stops_waiting_and_keeps_the_result(
    project: Project, hooks: Hooks
) -> None:
    project.script("training/train_clf.py", PRINTS_ENV)
    project.config(
        "configs/jobs.yaml",
        "notify:\n  - {kind: webhook, url_env: HOOK, when: always, timeout: 60}\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    proc = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        env={**env, "HOOK": f"{hooks.url}/slow/ctrl-c"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not hooks.hits["/slow/ctrl-c"]:
        assert time.monotonic() < deadline, "the webhook was never called"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0  # the run had succeeded; the message was only cut short
    assert "warning: notify webhook: not sent: interrupted by SIGINT" in err
    assert project.summary()["notifications"] == [
        {
            "target": "webhook",
            "kind": "webhook",
            "status": "skipped",
            "attempts": 0,
            "error": "interrupted by SIGINT",
        }
    ]


def test_merge_sends_the_runs_one_message_and_a_broken_config_only_loses_it(
    project: Project, hooks: Hooks
) -> None:
    project.script("training/train_clf.py", PRINTS_ENV)
    project.config(
        "configs/jobs.yaml", "notify:\n  - {kind: webhook, url_env: HOOK, when: change}\n"
    )
    shard = project.run("--shard", "1/1")  # a shard never sends, even with the variable set
    assert shard.returncode == 0, shard.stderr
    assert "notifications" not in project.summary()
    previous = project.root / "summaries/latest.json"
    merge = ["merge", "summaries/latest.json", "--output-root", "merged"]
    env = {"HOOK": f"{hooks.url}/ok/merge"}
    first = project.run(*merge, "--previous", str(previous), env=env)
    assert first.returncode == 0, first.stderr
    assert hooks.to("/ok/merge") == []  # passed, as the previous run did: no change
    assert "notify webhook: sent" not in first.stdout
    assert project.run(*merge, env=env).returncode == 0  # no previous run: a change
    [got] = hooks.to("/ok/merge")
    assert got.body["verdict"] == "passed"
    assert got.body["previous_verdict"] is None
    project.config("configs/jobs.yaml", "jobs:\n  clf: {epochs: ten}\n")
    broken = project.run(*merge, env=env)
    assert broken.returncode == 0
    assert "warning: no notification sent: configs/jobs.yaml:2:9: jobs.clf.epochs" in broken.stderr


def test_no_notify_notify_off_and_a_dry_run_tell_nobody(project: Project, hooks: Hooks) -> None:
    """A local rerun must not page the team: --no-notify, TRAIN_ORCH_NOTIFY=off, --dry-run
    and `merge --no-notify` send nothing; the same project without them does."""
    project.script("training/train_clf.py", PRINTS_ENV)
    project.config(
        "configs/jobs.yaml", "notify:\n  - {kind: webhook, url_env: HOOK, when: always}\n"
    )
    env = {"HOOK": f"{hooks.url}/ok/quiet"}
    flag = project.run("--no-notify", env=env)
    assert flag.returncode == 0, flag.stderr
    assert "notify: off (--no-notify): not telling webhook" in flag.stdout
    assert "notifications" not in project.summary()
    off = project.run(env={**env, "TRAIN_ORCH_NOTIFY": "off"})
    assert off.returncode == 0, off.stderr
    assert "notify: off" in off.stdout
    assert project.run("--dry-run", env=env).returncode == 0
    merge = ["merge", "summaries/latest.json", "--output-root", "merged"]
    assert project.run(*merge, "--no-notify", env=env).returncode == 0
    assert hooks.to("/ok/quiet") == []
    told = project.run(env=env)
    assert told.returncode == 0, told.stderr
    assert "notify webhook: sent" in told.stdout
    assert len(hooks.to("/ok/quiet")) == 1
