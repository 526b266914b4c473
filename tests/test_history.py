"""show / compare / trend over run summaries: hand-made summaries, plus one real run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, load_summary, summary_document

from orchestrator.errors import OrchestratorError
from orchestrator.report.history.compare import JobChange, MetricChange, compare
from orchestrator.report.history.compare_views import (
    compare_json,
    compare_markdown,
    print_compare,
)
from orchestrator.report.history.runs import load_summaries
from orchestrator.report.history.show import print_show, show_markdown
from orchestrator.report.history.trend import trend
from orchestrator.report.history.trend_views import (
    print_trend,
    sparkline,
    trend_markdown,
    xychart,
)
from orchestrator.run_summary import RunSummary, from_document

RUN_STATES = {"succeeded", "failed", "timed_out", "cancelled", "pruned"}
#: xychart's grammar for a number and a quoted string.
NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
TEXT = r'"[^"]*"'


def job(
    job_id: str,
    status: str = "succeeded",
    metrics: dict[str, float] | None = None,
    *,
    seconds: float = 1.0,
    optional: bool = False,
    tags: tuple[str, ...] = (),
    reason: str | None = None,
    headline: str | None = None,
) -> dict[str, Any]:
    """A job record; jobs that were not run (cached, reused, skipped) have no attempts."""
    attempts = [
        {
            "number": 1,
            "status": status if status in RUN_STATES else "succeeded",
            "started_at": "2026-03-01T09:00:00.000Z",
            "duration_s": seconds,
            "exit_code": 0 if status == "succeeded" else 1,
            "signal": None,
            "node": None,
            "error": None,
        }
    ]
    return {
        "id": job_id,
        "script": f"training/train_{job_id}.py",
        "argv": ["python", f"training/train_{job_id}.py"],
        "status": status,
        "reason": reason,
        "optional": optional,
        "tags": list(tags),
        "attempts": attempts if status in RUN_STATES | {"gate_failed"} else [],
        "duration_s": seconds,
        "log_path": f"logs/{job_id}.log",
        "output_dir": f"results/{job_id}_results",
        "metrics": metrics or {},
        "gates": [],
        "headline": headline,
        "needs": [],
        "from_run": None,
        "sweep": None,
    }


def summary(started_at: str, *jobs: dict[str, Any], commit: str | None = None) -> RunSummary:
    """A run summary around `jobs`, checked against the published schema, as loaded."""
    return from_document(summary_document(jobs, started_at=started_at, commit=commit), "test")


def day(n: int, minute: int = 0) -> str:
    return f"2026-03-{n:02d}T09:{minute:02d}:00.000Z"


# ------------------------------------------------------------------------------ loading
def test_load_summaries_sorts_and_prefers_stamped_files(tmp_path: Path) -> None:
    runs = tmp_path / "summaries"
    runs.mkdir()
    for n in (3, 1, 2):
        (runs / f"training_summary_2026030{n}T090000Z.json").write_text(
            json.dumps(summary_document([job("a")], started_at=day(n)))
        )
    (runs / "latest.json").write_text(json.dumps(summary_document([job("a")], started_at=day(3))))
    only_latest = tmp_path / "other"
    only_latest.mkdir()
    (only_latest / "latest.json").write_text(
        json.dumps(summary_document([job("b")], started_at=day(9)))
    )
    single = tmp_path / "one.json"
    single.write_text(json.dumps(summary_document([job("c")], started_at=day(5))))

    loaded = load_summaries([only_latest, runs, single])

    assert [s.started_at for s in loaded] == [day(1), day(2), day(3), day(5), day(9)]
    assert loaded[-1] == from_document(load_summary(only_latest / "latest.json"), "latest")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file or directory"),
        ("{not json", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('{"schema_version": 1, "jobs": []}', "started_at: missing"),
        ("[]", "not a run summary: expected a JSON object, got a list"),
    ],
)
def test_load_summaries_errors_name_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OrchestratorError) as caught:
        load_summaries([path])
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


def test_load_summaries_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(OrchestratorError, match="no run summaries"):
        load_summaries([tmp_path])


# ------------------------------------------------------------------------------ compare
def test_compare_every_status_change_kind() -> None:
    trial = ("sweep:sw",)
    base = summary(
        day(1),
        job("steady"),
        job("breaks"),
        job("fixed", "failed"),
        job("stuck", "timed_out"),
        job("gone"),
        job("flaky", optional=True),
        job("cache", seconds=7.0),
        job("sw", tags=("sweep",), seconds=0),
        job("sw[trial=0]", seconds=2.0, optional=True, tags=trial),
        job("sw[trial=1]", seconds=3.0, optional=True, tags=trial),
    )
    head = summary(
        day(2),
        job("steady"),
        job("breaks", "failed", reason="exit 3"),
        job("fixed"),
        job("stuck", "failed"),
        job("fresh"),
        job("flaky", "failed", optional=True),
        job("cache", "cached"),
        job("sw", tags=("sweep",), seconds=0),
        job("sw[trial=0]", "pruned", seconds=1.0, optional=True, tags=trial),
    )

    c = compare(base, head)

    kinds = {j.job: j.kind for j in c.jobs}
    assert kinds == {
        "steady": "unchanged",
        "breaks": "newly_failing",
        "fixed": "fixed",
        "stuck": "still_failing",
        "fresh": "new",
        "flaky": "newly_failing",
        "cache": "unchanged",
        "sw": "unchanged",
        "gone": "removed",
    }
    assert [r.job for r in c.regressions] == ["breaks"]  # not the optional one
    times = {j.job: (j.base_duration, j.head_duration) for j in c.jobs}
    assert times["sw"] == (5.0, 1.0)  # the trials' time is the sweep's
    assert times["cache"] == (7.0, None)  # a cache hit did not run: no time, no ratio
    assert times["fresh"] == (None, 1.0)


def test_compare_markdown_exact() -> None:
    base = summary(
        day(1),
        job("a", metrics={"accuracy": 0.9, "f1": 0.8, "f1_std": 0.1, "n_rows": 9}, seconds=10),
        job("b", metrics={"rmse": 2.0}, seconds=4),
        job("c", "failed", reason="exit 1"),
        job("old"),
        commit="abc1234def5678",
    )
    head = summary(
        day(2),
        job("a", metrics={"accuracy": 0.8, "f1": 0.85, "f1_std": 0.5, "n_rows": 3}, seconds=15),
        job("b", "failed", reason="exit 3 | OOM", seconds=4),
        job("c", metrics={"accuracy": 0.7}),
        job("new"),
    )

    assert compare_markdown(compare(base, head)) == (
        "### Compared with the previous run\n"
        "\n"
        "❌ 2 regressions · 1 newly failing · 1 fixed · 1 new · 1 removed"
        " · 1 metric better · 1 metric worse\n"
        "\n"
        "Base `2026-03-01T09:00:00.000Z` (commit `abc1234`) → head `2026-03-02T09:00:00.000Z`\n"
        "\n"
        "| job | change | base | head | note |\n"
        "|---|---|---|---|---|\n"
        "| `b` | ❌ newly failing | succeeded | failed | exit 3 \\| OOM |\n"
        "| `c` | ✅ fixed | failed | succeeded |  |\n"
        "| `new` | 🆕 new | — | succeeded |  |\n"
        "| `old` | 🗑️ removed | succeeded | — |  |\n"
        "\n"
        "| job | metric | base | head | delta | regression |\n"
        "|---|---|---:|---:|---|---|\n"
        "| `a` | accuracy | 0.9 | 0.8 | -0.1 (-11.1%) ↓ ❌ | **regression** |\n"
        "| `a` | f1 | 0.8 | 0.85 | +0.05 (+6.2%) ↑ ✅ |  |\n"
        "\n"
        "**Run time changed by more than 20%**\n"
        "\n"
        "| job | base | head | change |\n"
        "|---|---:|---:|---:|\n"
        "| `a` | 10.0s | 15.0s | +50% |\n"
    )


def test_compare_markdown_without_changes() -> None:
    run = summary(day(1), job("a", metrics={"accuracy": 0.9}))
    text = compare_markdown(compare(run, run))
    assert text == (
        "### Compared with the previous run\n\n✅ no regressions\n\n"
        "Base `2026-03-01T09:00:00.000Z` → head `2026-03-01T09:00:00.000Z`\n"
    )


def test_metric_directions_and_regression_order() -> None:
    base = summary(
        day(1),
        job("down", "succeeded"),
        job("a", metrics={"accuracy": 0.9, "rmse": 10.0, "loss": 1.0, "r2": 0.5}),
    )
    head = summary(
        day(2),
        job("down", "gate_failed", reason="accuracy 0.1 fails >= 0.5"),
        job("a", metrics={"accuracy": 0.95, "rmse": 11.0, "loss": 0.5, "r2": 0.25}),
    )

    c = compare(base, head)

    changes = {m.metric: m for j in c.jobs for m in j.metrics}
    assert {name: m.verdict for name, m in changes.items()} == {
        "accuracy": "better",
        "rmse": "worse",
        "loss": "better",
        "r2": "worse",
    }
    assert changes["rmse"].delta == 1.0
    assert changes["rmse"].relative == pytest.approx(0.1)
    # newly failing first, then metric regressions largest first (r2 -50%, rmse +10%)
    assert [(r.job, getattr(r, "metric", None)) for r in c.regressions] == [
        ("down", None),
        ("a", "r2"),
        ("a", "rmse"),
    ]
    assert isinstance(c.regressions[0], JobChange)
    assert all(isinstance(r, MetricChange) for r in c.regressions[1:])


@pytest.mark.parametrize(
    ("metric", "head", "regression"),
    [
        ("accuracy", 0.99, False),  # exactly 1% worse: allowed
        ("accuracy", 0.9899, True),  # just over
        ("rmse", 1.01, False),
        ("rmse", 1.0101, True),
        ("accuracy", 1.5, False),  # far better is never a regression
    ],
)
def test_tolerance_boundary(metric: str, head: float, regression: bool) -> None:
    c = compare(
        summary(day(1), job("a", metrics={metric: 1.0})),
        summary(day(2), job("a", metrics={metric: head})),
        tolerance=0.01,
    )
    [change] = c.jobs[0].metrics
    assert change.regression is regression
    assert len(c.regressions) == int(regression)


def test_per_job_direction_and_tolerance_overrides() -> None:
    base = summary(day(1), *(job(n, metrics={"rmse": 10.0, "accuracy": 0.9}) for n in "ab"))
    head = summary(day(2), *(job(n, metrics={"rmse": 12.0, "accuracy": 0.8}) for n in "ab"))

    c = compare(
        base,
        head,
        directions={"a": {"rmse": "higher"}},
        tolerances={"a": {"accuracy": 0.2}},
    )

    verdicts = {(m.job, m.metric): (m.verdict, m.regression) for j in c.jobs for m in j.metrics}
    assert verdicts == {
        ("a", "rmse"): ("better", False),
        ("a", "accuracy"): ("worse", False),
        ("b", "rmse"): ("worse", True),
        ("b", "accuracy"): ("worse", True),
    }
    with pytest.raises(OrchestratorError, match="direction of rmse: 'up'"):
        compare(base, head, directions={"a": {"rmse": "up"}})


def test_compare_json_is_plain_json() -> None:
    base = summary(day(1), job("a", metrics={"accuracy": 0.9}, seconds=2.0), job("b"))
    head = summary(day(2), job("a", metrics={"accuracy": 0.5}, seconds=3.0), job("b", "failed"))

    data = json.loads(json.dumps(compare_json(compare(base, head))))

    assert data["regressions"] == [
        {"job": "b", "kind": "newly_failing", "metric": None, "resource": None, "relative": None},
        {
            "job": "a",
            "kind": "metric",
            "metric": "accuracy",
            "resource": None,
            "relative": pytest.approx(-4 / 9),
        },
    ]
    first = data["jobs"][0]
    assert first["duration"] == {"base": 2.0, "head": 3.0, "delta": 1.0, "ratio": 1.5}
    assert first["metrics"][0]["direction"] == "higher"
    assert first["metrics"][0]["regression"] is True


def test_print_compare(capsys: pytest.CaptureFixture[str]) -> None:
    base = summary(day(1), job("a", metrics={"accuracy": 0.9}), job("b"))
    head = summary(day(2), job("a", metrics={"accuracy": 0.5}), job("b", "failed"))

    print_compare(compare(base, head))

    out = capsys.readouterr().out
    assert out.splitlines()[0] == "❌ 2 regressions · 1 newly failing · 1 metric worse"
    assert re.search(r"^b +newly failing +succeeded +failed", out, re.MULTILINE)
    assert re.search(r"^a +accuracy +0\.9 +0\.5 +-0\.4 \(-44\.4%\) ↓ +regression$", out, re.M)


# -------------------------------------------------------------------------------- trend
def five_runs() -> list[dict[str, Any]]:
    return [
        summary(
            day(n),
            job("a", metrics={"accuracy": 0.8 + n / 100, "rmse": 3.0 - n / 10}, seconds=n),
            *([job("b", metrics={"f1": 1e-7 * n})] if n != 3 else []),
            job("never", "skipped"),
        )
        for n in range(1, 6)
    ]


def mermaid_blocks(text: str) -> list[list[str]]:
    blocks, current = [], None
    for line in text.splitlines():
        if line == "```mermaid":
            current = [line]
        elif current is not None:
            current.append(line)
            if line == "```":
                blocks.append(current)
                current = None
    return blocks


def test_trend_markdown_is_valid_xychart() -> None:
    text = trend_markdown(trend(five_runs()))

    blocks = mermaid_blocks(text)
    assert len(blocks) == 5  # a: accuracy, rmse, time; b: f1, time; never: nothing to draw
    assert "`never`" not in text
    for block in blocks:
        assert len(block) == 7
        assert block[1] == "xychart-beta"
        assert re.fullmatch(rf"    title {TEXT}", block[2])
        assert re.fullmatch(rf"    x-axis \[{TEXT}(, {TEXT})*\]", block[3])
        assert re.fullmatch(rf"    y-axis {TEXT}", block[4])
        assert re.fullmatch(rf"    line \[{NUMBER}(, {NUMBER})*\]", block[5])
        assert block[6] == "```"
        labels = re.findall(TEXT, block[3])
        assert len(labels) == len(block[5].split(","))
    accuracy = blocks[0]
    assert accuracy[2] == '    title "a: accuracy"'
    assert accuracy[3] == (
        '    x-axis ["03-01 09:00", "03-02 09:00", "03-03 09:00", "03-04 09:00", "03-05 09:00"]'
    )
    assert accuracy[4] == '    y-axis "accuracy"'
    assert accuracy[5] == "    line [0.81, 0.82, 0.83, 0.84, 0.85]"
    assert blocks[2][5] == "    line [1, 2, 3, 4, 5]"
    # b is missing from the third run: that run is left out of its charts
    assert blocks[3][3].count('"') == 8
    assert blocks[3][5] == "    line [0.0000001, 0.0000002, 0.0000004, 0.0000005]"


def test_trend_series_and_labels() -> None:
    runs = [summary(day(1, 0)), *(summary(day(1, 5), job("a")) for _ in range(2))]
    t = trend(five_runs())
    assert [j.job for j in t.jobs] == ["a", "b", "never"]
    b = t.jobs[1]
    assert [s.name for s in b.metrics] == ["f1"]
    assert b.metrics[0].values[2] is None
    assert b.durations.values == (1.0, 1.0, None, 1.0, 1.0)
    assert trend(runs).labels == ("03-01 09:00", "03-01 09:05 #1", "03-01 09:05 #2")


def test_xychart_numbers_never_use_exponents() -> None:
    chart = xychart("t", "y", ["a", "b", "c", "d"], [1.5e-7, 12345678.9, -0.5, float("nan")])
    assert chart[3] == '    x-axis ["a", "b", "c"]'
    assert chart[5] == "    line [0.00000015, 12345700, -0.5]"
    assert xychart("t", "y", ["a"], [None]) == []


def test_sparkline() -> None:
    assert sparkline([1.0, None, 3.0, 2.0]) == "▁ █▅"
    assert sparkline([2.0, 2.0]) == "▄▄"
    assert sparkline([None, None]) == "  "


def test_print_trend(capsys: pytest.CaptureFixture[str]) -> None:
    print_trend(trend(five_runs()))

    out = capsys.readouterr().out
    rows = {tuple(line.split()[:2]): line for line in out.splitlines() if line.startswith("a ")}
    assert re.search(r" ▁▃▅▆█ +0\.85$", rows[("a", "accuracy")])
    assert re.search(r" █▆▅▃▁ +2\.5$", rows[("a", "rmse")])
    assert re.search(r" ▁▃▅▆█ +5\.0s$", rows[("a", "time")])
    assert re.search(r"^b +f1 +▁▃ ▆█ +5e-07$", out, re.MULTILINE)
    assert re.search(r"^never +time +— *$", out, re.MULTILINE)


# --------------------------------------------------------------------------------- show
FAILING_SCRIPT = "import sys; print('loading data'); print('CUDA [oom]'); sys.exit(3)\n"


def test_show_a_real_run(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.script("training/train_a.py")
    project.script("training/train_bad.py", FAILING_SCRIPT)
    assert project.run().returncode == 1
    run = from_document(project.summary(), "latest.json")

    print_show(run, project.root)

    out = capsys.readouterr().out
    # What each job used sits between its time and its headline (measured on Linux).
    used = r"\d+(\.\d)? [KM]iB +\d+\.\ds · \d+%"
    assert re.search(rf"^a +succeeded +1 +\d+\.\ds +{used} +accuracy 0\.51 ", out, re.M)
    assert re.search(rf"^bad +failed +1 +\d+\.\ds +{used} +exit 3 ", out, re.MULTILINE)
    assert "bad: exit 3 · last " in out
    assert "   CUDA [oom]" in out  # the log tail, printed as is
    assert re.search(r"^1 succeeded · 1 failed · \d+\.\ds · exit 1$", out, re.MULTILINE)
    markdown = show_markdown(run, project.root)
    assert markdown == (project.root / "summaries/summary.md").read_text()
    verdict = compare_markdown(compare(run, run)).splitlines()[2]
    assert verdict == "✅ no regressions · 1 still failing"
