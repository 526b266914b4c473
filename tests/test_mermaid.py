"""The charts in our Markdown, checked by the real Mermaid: parsed, compiled and drawn.

A gantt that only looks right as text is what GitHub showed as an error for months: task
dates are compiled when the chart is drawn, not when it is parsed. So every chart here goes
through the pinned mermaid package (tests/mermaid), and the bars through a real browser.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import GOOD_SCRIPT, Project, summary_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mermaid_check import (  # the fixtures are used by name, in usefixtures
    assert_mermaid_ok,
    check_charts,
    ensure_chromium,
    mermaid_blocks,
    mermaid_browser,  # noqa: F401
    mermaid_node,  # noqa: F401
    render_charts,
)

from orchestrator.report import markdown, timeline
from orchestrator.report.history import compare_views, trend_views
from orchestrator.report.history.compare import compare
from orchestrator.report.history.trend import JobTrend, Series, Trend
from orchestrator.run_summary import from_document

BASE = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.timezone.utc)
BASE_MS = int(BASE.timestamp() * 1000)
#: Job id pieces that mean something to Mermaid's gantt or xychart grammar, or to Markdown.
HOSTILE = [
    "section",
    "section x",
    "title x",
    "dateFormat YYYY",
    "axisFormat %d",
    "click a call alert()",
    'click a href "https://example.com"',
    "excludes weekends",
    "includes 2026-03-01",
    "todayMarker on",
    "tickInterval 1day",
    "weekday monday",
    "inclusiveEndDates",
    "topAxis",
    "gantt",
    "xychart-beta",
    "x-axis",
    "line [1, 2]",
    "2026-03-01",
    "accTitle: x",
    "accDescr { x }",
    "after task1",
    "done,",
    "crit",
    "milestone",
    "vert",
    "%%",
    '%%{init: {"theme": "dark"}}%%',
    "#",
    "#lt;",
    ";",
    ":",
    ",",
    "\n",
    "\r",
    "\u2028",
    "\x85",
    "\t",
    " ",
    "```",
    "```mermaid\ngraph TD\n```",
    "[",
    "]",
    '"',
    "<br>",
    "&amp;",
]
JOB_IDS = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=6)), min_size=1, max_size=5
).map("".join)


def iso(ms: int) -> str:
    """The summary's UTC timestamp for `ms` after BASE, exact to the millisecond."""
    at = BASE + datetime.timedelta(milliseconds=ms)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attempt(number: int, status: str, start_ms: int, duration_ms: int) -> dict[str, Any]:
    return {
        "number": number,
        "status": status,
        "started_at": iso(start_ms),
        "duration_s": duration_ms / 1000,
        "exit_code": 0 if status == "succeeded" else 1,
        "signal": None,
        "node": None,
        "error": None,
    }


def job(
    job_id: str,
    status: str,
    *attempts: dict[str, Any],
    reason: str | None = None,
    log: str = "logs/job.log",
) -> dict[str, Any]:
    return {
        "id": job_id,
        "script": "training/train_job.py",
        "argv": ["python", "training/train_job.py"],
        "status": status,
        "reason": reason,
        "optional": False,
        "tags": [],
        "attempts": list(attempts),
        "duration_s": sum(a["duration_s"] for a in attempts),
        "log_path": log,
        "output_dir": "results/job",
        "metrics": {},
        "gates": [],
        "headline": None,
        "needs": [],
        "from_run": None,
        "sweep": None,
    }


def summary(*jobs: dict[str, Any], check: bool = True) -> dict[str, Any]:
    """A run summary starting at BASE; checked against the schema (costly for 5,000 jobs)."""
    return summary_document(jobs, started_at=iso(0), check=check)


def gantt_of(text: str) -> dict[str, Any]:
    """The one chart in a report, as Mermaid compiled it."""
    [chart] = assert_mermaid_ok(text, count=1)
    assert chart["type"] == "gantt"
    return chart


def kind(classes: list[str]) -> str:
    """A bar's status class without Mermaid's section number: "done0" -> "done"."""
    [status] = [re.sub(r"\d+$", "", c) for c in classes if c != "task" and c[-1].isdigit()]
    return status


pytestmark = pytest.mark.usefixtures("mermaid_node")


def test_a_missing_browser_fails_loudly_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never a skip: a chart check that quietly does not run cannot catch anything."""
    monkeypatch.setattr("mermaid_check.CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr("os.geteuid", lambda: 1000)

    with pytest.raises(pytest.fail.Exception, match="sudo apt-get install -y chromium"):
        ensure_chromium()


# ------------------------------------------------------------------------- dates, axis
def test_gantt_dates_compile_in_mermaid(tmp_path: Path) -> None:
    """Start times with milliseconds: `dateFormat X` took them and Mermaid drew an error."""
    data = summary(
        job("a", "succeeded", attempt(1, "succeeded", 13, 3194)),
        job("b", "succeeded", attempt(1, "succeeded", 500, 1500)),
        job("c", "failed", attempt(1, "failed", 3208, 2), reason="exit 1"),
    )

    chart = gantt_of(markdown.render(from_document(data, "test"), tmp_path))

    assert chart["dateFormat"] == "x"
    assert chart["todayMarker"] == "off"
    assert chart["sections"] == ["worker 1", "worker 2"]
    tasks = [(t["name"], t["section"], t["start"], t["end"], t["tags"]) for t in chart["tasks"]]
    assert tasks == [
        ("· a ", "worker 1", BASE_MS + 13, BASE_MS + 3207, ["done"]),
        ("· c ", "worker 1", BASE_MS + 3208, BASE_MS + 3210, ["crit"]),
        ("· b ", "worker 2", BASE_MS + 500, BASE_MS + 2000, ["done"]),
    ]


@pytest.mark.parametrize(
    ("span_ms", "axis"),
    [
        (3_000, "%H:%M:%S.%L"),  # ticks a fraction of a second apart
        (15 * 60_000, "%H:%M:%S"),
        (2 * 3_600_000, "%H:%M:%S"),  # %M:%S would wrap every hour
        (30 * 3_600_000, "%m-%d %H:%M"),  # the same clock time comes twice
    ],
)
def test_axis_format_stays_right_for_long_runs(span_ms: int, axis: str) -> None:
    data = summary(job("long", "succeeded", attempt(1, "succeeded", 0, span_ms)))

    [chart] = check_charts(["\n".join(timeline.gantt(from_document(data, "test"))[1:-1])])

    assert chart["ok"], chart
    assert chart["axisFormat"] == axis
    assert chart["tasks"][0]["end"] - chart["tasks"][0]["start"] == span_ms


@pytest.mark.usefixtures("mermaid_browser")
def test_axis_shows_clock_times_in_the_viewers_time_zone() -> None:
    """Dates are instants, so every viewer reads the right local clock time off the axis
    (Mermaid formats ticks in the browser's zone; India is 5:30 ahead of UTC)."""
    data = summary(job("two_hours", "succeeded", attempt(1, "succeeded", 0, 2 * 3_600_000)))
    text = "\n".join(timeline.gantt(from_document(data, "test"))[1:-1])

    [utc] = render_charts([text], timezone="UTC")
    [india] = render_charts([text], timezone="Asia/Kolkata")

    assert utc["ok"] and india["ok"], (utc, india)
    ticks = [datetime.datetime.strptime(t, "%H:%M:%S") for t in utc["ticks"]]
    assert ticks[0] >= datetime.datetime.strptime("09:00:00", "%H:%M:%S")
    assert ticks[-1] <= datetime.datetime.strptime("11:00:00", "%H:%M:%S")
    shifted = [(t + datetime.timedelta(hours=5, minutes=30)).strftime("%H:%M:%S") for t in ticks]
    assert india["ticks"] == shifted


# ------------------------------------------------------------------- statuses and bars
STATUS_RUN = summary(
    job("good", "succeeded", attempt(1, "succeeded", 0, 1000)),
    job("bad", "failed", attempt(1, "failed", 0, 400), reason="exit 3"),
    job("slow", "timed_out", attempt(1, "timed_out", 0, 900), reason="timed out"),
    job(
        "gated",
        "gate_failed",
        attempt(1, "failed", 0, 300),
        attempt(2, "succeeded", 400, 500),
        reason="accuracy 0.51 fails >= 0.99",
    ),
    job("stopped", "cancelled", attempt(1, "cancelled", 0, 200), reason="interrupted"),
    job("trial", "pruned", attempt(1, "pruned", 0, 100), reason="pruned"),
)


def test_each_attempt_is_drawn_with_its_status(tmp_path: Path) -> None:
    """A gate_failed job's attempt ran fine but the job failed: not `done` like a success."""
    chart = gantt_of(markdown.render(from_document(STATUS_RUN, "test"), tmp_path))

    tags = {t["name"]: t["tags"] for t in chart["tasks"]}
    assert tags == {
        "· good ": ["done"],
        "· bad ": ["crit"],
        "· slow ": ["crit"],
        "· gated ": ["crit"],
        "· gated (try 2) ": ["active"],
        "· stopped ": ["crit"],
        "· trial ": [],
    }


@pytest.mark.usefixtures("mermaid_browser")
def test_a_real_runs_timeline_has_one_bar_per_attempt_with_its_class(
    project: Project, tmp_path: Path
) -> None:
    """A real parallel run, drawn by Mermaid in Chromium: the CSS class of each bar is
    what colours it, so that is what is checked (not the colours of a theme)."""
    project.script("training/train_good.py")
    project.script("training/train_gated.py")
    project.script("training/train_bad.py", "import sys; sys.exit(3)\n")
    project.script(
        "training/train_flaky.py",
        "import pathlib, sys\n"
        "mark = pathlib.Path(__file__).with_suffix('.mark')\n"
        "if not mark.exists():\n"
        "    mark.write_text('failed once')\n"
        "    sys.exit(1)\n" + GOOD_SCRIPT,
    )
    project.config(
        "configs/jobs.yaml",
        """
        defaults: {retries: 1, retry_delay: 0}
        jobs:
          gated: {gates: {accuracy: ">= 0.99"}}
        """,
    )
    assert project.run("--parallel", "--max-workers", "4").returncode == 1
    data = project.summary()
    report = (project.root / "summaries/summary.md").read_text()
    *_, chart = mermaid_blocks(report)  # after the resource bars
    assert chart.startswith("gantt\n")

    [drawn] = render_charts([chart], pngs=[tmp_path / "timeline.png"])

    assert drawn["ok"], drawn
    expected = {
        ("good", 1): "done",
        ("gated", 1): "active",
        ("bad", 1): "crit",
        ("bad", 2): "crit",
        ("flaky", 1): "crit",
        ("flaky", 2): "done",
    }
    assert {(j["id"], a["number"]) for j in data["jobs"] for a in j["attempts"]} == set(expected)
    bars = Counter((bar["label"], kind(bar["classes"])) for bar in drawn["bars"])
    assert bars == Counter(
        (f"· {job_id}{f' (try {n})' if n > 1 else ''} ", status)
        for (job_id, n), status in expected.items()
    )
    assert (tmp_path / "timeline.png").read_bytes().startswith(b"\x89PNG")


# ------------------------------------------------------------------ hostile job ids
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(JOB_IDS, min_size=1, max_size=5, unique=True),
    statuses=st.lists(
        st.sampled_from(["succeeded", "failed", "timed_out", "gate_failed", "cancelled"]),
        min_size=5,
        max_size=5,
    ),
    retried=st.lists(st.booleans(), min_size=5, max_size=5),
    parallel=st.booleans(),
)
def test_no_job_id_changes_the_charts_structure(
    ids: list[str], statuses: list[str], retried: list[bool], parallel: bool
) -> None:
    """Whatever a job id holds, the report has one chart with one section per lane and
    one task per attempt, on its own dates, with its own status."""
    jobs, expected = [], []
    clock = 0
    for index, (job_id, status) in enumerate(zip(ids, statuses, strict=False)):
        tries = []
        if retried[index]:
            start = index if parallel else clock
            tries.append(attempt(1, "failed", start, 1000))
            expected.append((BASE_MS + start, BASE_MS + start + 1000, ["crit"]))
            clock += 1010
        start = (2000 + index) if parallel else clock
        final = "succeeded" if status == "gate_failed" else status
        tries.append(attempt(len(tries) + 1, final, start, 1000))
        tag = {"succeeded": "done", "gate_failed": "active"}.get(status, "crit")
        expected.append((BASE_MS + start, BASE_MS + start + 1000, [tag]))
        clock += 1010
        jobs.append(job(job_id, status, *tries, reason=job_id))
    lanes = len(ids) if parallel else 1  # parallel: every final attempt overlaps the others

    chart = gantt_of(
        markdown.render(from_document(summary(*jobs, check=False), "test"), Path("/nonexistent"))
    )

    assert chart["title"] == "When each job ran (clock times in your time zone)"
    assert chart["sections"] == [f"worker {n + 1}" for n in range(lanes)]
    assert sorted((t["start"], t["end"], t["tags"]) for t in chart["tasks"]) == sorted(expected)
    assert all(t["name"].startswith(timeline.TASK_PREFIX) for t in chart["tasks"])


def test_a_log_tail_cannot_open_a_chart(tmp_path: Path) -> None:
    """Log lines are printed in a fence longer than any run of backticks in them."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs/bad.log").write_text("````\n```mermaid\ngraph TD\n  A --> B\n```\n")
    data = summary(
        job("bad", "failed", attempt(1, "failed", 0, 5), reason="exit 1", log="logs/bad.log")
    )

    chart = gantt_of(markdown.render(from_document(data, "test"), tmp_path))

    assert [t["name"] for t in chart["tasks"]] == ["· bad "]


# ------------------------------------------------------------------- trend xycharts
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    job_id=JOB_IDS,
    metric=st.one_of(st.sampled_from(["", *HOSTILE]), st.text(max_size=8)),
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=4,
    ),
)
def test_no_name_or_value_changes_a_trend_chart(
    job_id: str, metric: str, values: list[float | None]
) -> None:
    """Each trend chart stays one chart with one point per run that has a value."""
    labels = tuple(f"03-0{n + 1} 09:00" for n in range(len(values)))
    t = Trend(
        labels=labels,
        jobs=(
            JobTrend(
                job=job_id,
                metrics=(Series(metric, tuple(values)),),
                durations=Series("run time", (1.5,) * len(values)),
            ),
        ),
    )
    points = [(label, v) for label, v in zip(labels, values, strict=True) if v is not None]

    charts = assert_mermaid_ok(trend_views.trend_markdown(t), count=1 + bool(points))

    for chart, drawn in zip(charts, [points] if points else [], strict=False):
        assert chart["type"] == "xychart"
        assert chart["xAxis"] == [label for label, _ in drawn]
        assert all(_close(a, b) for a, (_, b) in zip(chart["plots"][0]["data"], drawn, strict=True))
    assert charts[-1]["plots"] == [{"type": "line", "data": [1.5] * len(values)}]


def _close(drawn: float, value: float) -> bool:
    """Six significant digits are written, so that is what comes back."""
    return math.isclose(drawn, value, rel_tol=1e-5, abs_tol=1e-300)


# ------------------------------------------------------------- the step summary's size
def test_step_summary_far_over_the_cap_keeps_the_verdict_and_the_failures(
    tmp_path: Path,
) -> None:
    """5,000 jobs whose table alone is over GitHub's 1 MiB: the failing rows, which come
    last in the table, are the ones kept; the rest is counted and pointed at."""
    (tmp_path / "logs").mkdir()
    jobs = [
        job(f"ok-{i:04d}-" + "x" * 200, "succeeded", attempt(1, "succeeded", i, 100))
        for i in range(4500)
    ]
    for i in range(500):
        log = f"logs/failing-{i:03d}.log"
        (tmp_path / log).write_text("".join(f"{n} " + "e" * 300 + "\n" for n in range(60)))
        reason = f"exit {i % 7 + 1}"
        jobs.append(
            job(f"failing-{i:03d}", "failed", attempt(1, "failed", i, 100), reason=reason, log=log)
        )

    text = markdown.render(from_document(summary(*jobs, check=False), "test"), tmp_path)

    assert len(text.encode()) <= markdown.STEP_SUMMARY_LIMIT
    assert text.startswith("## ❌ Training run: 4500 succeeded · 500 failed · ")
    for i in range(500):
        assert f"| `failing-{i:03d}` | ❌ failed | 1 | 0.1s | exit {i % 7 + 1} |" in text
    note = text.splitlines()[2]
    assert note.startswith("> Shortened to fit GitHub's 1 MiB step summary: only the job table")
    assert "(0 failing). The run's artifacts (summaries/, logs/) have everything." in note
    assert mermaid_blocks(text) == []


def test_log_tails_shrink_before_the_table_and_the_timeline(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    jobs = []
    for i in range(40):
        log = f"logs/bad-{i}.log"
        (tmp_path / log).write_text("".join(f"{n} " + "e" * 1000 + "\n" for n in range(50)))
        jobs.append(
            job(f"bad-{i}", "failed", attempt(1, "failed", i, 100), reason="exit 1", log=log)
        )

    text = markdown.render(from_document(summary(*jobs), "test"), tmp_path, limit=600_000)

    assert len(text.encode()) <= 600_000
    assert text.splitlines()[2] == (
        "> Shortened to fit GitHub's 1 MiB step summary: log tails cut to 10 lines. "
        "The run's artifacts (summaries/, logs/) have everything."
    )
    assert text.count(": last 10 lines of <code>logs/bad-") == 40
    assert len(gantt_of(text)["tasks"]) == 40


def test_a_timeline_too_long_for_mermaid_is_left_out_with_a_note(tmp_path: Path) -> None:
    """Mermaid draws an error, not a chart, past 50,000 characters: say so instead."""
    jobs = [job(f"j{i}", "succeeded", attempt(1, "succeeded", i * 10, 10)) for i in range(1500)]

    text = markdown.render(from_document(summary(*jobs, check=False), "test"), tmp_path)

    assert mermaid_blocks(text) == []
    assert text.endswith(
        "\n> The timeline of 1500 attempts is left out: Mermaid draws no chart longer than "
        "50,000 characters. The summary JSON has each attempt's times.\n"
    )


def test_report_and_comparison_fit_one_step_summary(tmp_path: Path) -> None:
    """The comparison appended after the report keeps to the room the report left it."""
    base = summary(
        *(
            job(f"job-{i:04d}-" + "y" * 100, "succeeded", attempt(1, "succeeded", i, 100))
            for i in range(5000)
        ),
        check=False,
    )
    head = summary(
        *(
            job(
                f"job-{i:04d}-" + "y" * 100,
                "failed",
                attempt(1, "failed", i, 400),
                reason="exit 1 " + "z" * 100,
            )
            for i in range(5000)
        ),
        check=False,
    )
    comparison = compare(from_document(base, "base"), from_document(head, "head"))

    report = markdown.render(from_document(head, "test"), tmp_path)
    compared = compare_views.compare_markdown(comparison)

    assert len(compared.encode()) <= markdown.COMPARE_RESERVE
    assert len(report.encode()) + len(compared.encode()) <= 1024 * 1024
    lines = compared.splitlines()
    assert lines[0] == "### Compared with the previous run"
    assert lines[8].startswith("| `job-0000-")
    assert "❌ newly failing" in lines[8]
    assert re.fullmatch(
        r"> \d+ more rows left out to fit GitHub's step summary; "
        r"`run-all-training compare --format json` lists them all\.",
        lines[-1],
    )
