"""A Ray run's timeline: one section per node and lane, checked by the real Mermaid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mermaid_check import mermaid_node  # noqa: F401 -- the fixture, used by name
from test_mermaid import attempt, gantt_of, job, summary

from orchestrator.report import markdown
from orchestrator.run_summary import from_document

pytestmark = pytest.mark.usefixtures("mermaid_node")


def on(node: str, number: int, status: str, start_ms: int, duration_ms: int) -> dict[str, Any]:
    return attempt(number, status, start_ms, duration_ms) | {"node": node}


def test_each_node_gets_its_own_lanes_and_a_lost_attempt_stays_on_its_node(
    tmp_path: Path,
) -> None:
    data = summary(
        job("a", "succeeded", on("aaaa11112222", 1, "succeeded", 0, 3000)),
        job(
            "b",
            "succeeded",
            on("aaaa11112222", 1, "failed", 0, 1000) | {"error": "node_lost"},
            on("bbbb33334444", 2, "succeeded", 1000, 1000),
        ),
        # A summary is input: a node that is not Ray's hex cannot open a section of its own.
        job("c", "succeeded", on("x:y;#%%\nsection z", 1, "succeeded", 0, 500)),
    )

    chart = gantt_of(markdown.render(from_document(data, "test"), tmp_path))

    assert chart["sections"] == [
        "node aaaa11112222 · worker 1",
        "node aaaa11112222 · worker 2",
        "node bbbb33334444 · worker 1",
        "node x_y_____section z · worker 1",
    ]
    tasks = [(t["name"], t["section"]) for t in chart["tasks"]]
    assert tasks == [
        ("· b ", "node aaaa11112222 · worker 1"),  # the shorter bar of the two takes lane 1
        ("· a ", "node aaaa11112222 · worker 2"),
        ("· b (try 2) ", "node bbbb33334444 · worker 1"),
        ("· c ", "node x_y_____section z · worker 1"),
    ]
