"""Notifications from the bundled workflow, run by the local GitHub runner: one message per
run (from the merge, never from a shard), the secrets only where they are needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import load_summary, write
from gha_runner import LocalRunner
from notify_servers import Hooks, start_hooks
from test_github_scenarios import CONFIG, TRAIN, WORKFLOW, commit, git, orchestrator_tree

NOTIFY = """
notify:
  - {kind: slack, url_env: SLACK_WEBHOOK_URL, when: always}
"""


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    found, server = start_hooks()
    yield found
    server.shutdown()
    server.server_close()


def test_a_sharded_run_sends_one_message_from_the_merge(tmp_path: Path, hooks: Hooks) -> None:
    root = orchestrator_tree(tmp_path / "repo")
    for name in ("alpha", "beta", "gamma", "delta", "broken", "killer", "slow"):
        write(root / f"training/train_{name}.py", TRAIN)
    write(root / "configs/jobs.yaml", CONFIG + NOTIFY)
    git(root, "init", "-q", "-b", "main")
    commit(root, "the project")
    token = "/ok/services/T1/B2/gha-secret-token"
    runner = LocalRunner(root, workdir=tmp_path / "gha")
    result = runner.run(
        WORKFLOW,
        inputs={"shards": 2},
        secrets={"SLACK_WEBHOOK_URL": hooks.url + token},
        run_id=77,
    )
    assert result.conclusion == "success", result.errors()
    [message] = hooks.to(token)
    assert message.body["text"].startswith("✅ acme/training-orchestrator on main (")
    assert message.body["text"].endswith("4 succeeded · " + message.body["text"].split(" · ")[-1])
    links = message.body["blocks"][-1]["elements"][0]["text"]
    assert links == "<https://github.com/acme/training-orchestrator/actions/runs/77|GitHub run>"
    merged = load_summary(result.artifacts["training-summary"] / "latest.json")
    assert merged["notifications"] == [
        {"target": "slack", "kind": "slack", "status": "sent", "attempts": 1}
    ]
    for artifact in result.artifacts.values():
        for path in artifact.rglob("*"):
            assert not path.is_file() or b"gha-secret-token" not in path.read_bytes(), path
    train = [job for name, job in result.jobs.items() if " / train " in name]
    assert len(train) == 2
    assert all("gha-secret-token" not in job.log for job in train)
