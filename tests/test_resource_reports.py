"""What each job used, in the reports after a run: the step summary's columns and bars,
`show`, `compare`'s resource regressions and `trend`'s resource lines (issue 19 "Show").

Values in-process; every chart through the real Mermaid (tests/mermaid); one real run pair
for what only real processes show.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, summary_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mermaid_check import (  # the fixtures are used by name, in usefixtures
    assert_mermaid_ok,
    mermaid_blocks,
    mermaid_browser,  # noqa: F401
    mermaid_node,  # noqa: F401
    render_charts,
)
from test_mermaid import HOSTILE

from orchestrator.models import Status
from orchestrator.report import markdown
from orchestrator.report.history.compare import NOISE_FLOOR, compare
from orchestrator.report.history.compare_views import compare_json, compare_markdown, print_compare
from orchestrator.report.history.show import print_show
from orchestrator.report.history.trend import trend
from orchestrator.report.history.trend_views import print_trend, trend_markdown
from orchestrator.report.resource_chart import LABEL_MAX, MAX_BARS, bar_labels
from orchestrator.report.resources import job_usage, usages_by_job
from orchestrator.run_summary import AttemptRecord, JobRecord, RunSummary, from_document
from orchestrator.usage import Usage

MIB, GIB = 1 << 20, 1 << 30
NOWHERE = Path("/nonexistent")


def used(peak: float | None = None, cpu: float | None = None, **extra: Any) -> Usage:
    return Usage(method="cgroup-v1", cpu_s=cpu, peak_memory_bytes=peak, **extra)  # type: ignore[arg-type]


def tried(usage: Usage | None, seconds: float = 10.0, number: int = 1) -> AttemptRecord:
    return AttemptRecord(
        number=number,
        status=Status.SUCCEEDED,
        started_at=f"2026-03-01T09:00:{number:02d}Z",
        duration_s=seconds,
        usage=usage,
    )


def record(
    job_id: str, *attempts: AttemptRecord, optional: bool = False, tags: tuple[str, ...] = ()
) -> JobRecord:
    return JobRecord(
        id=job_id,
        status=Status.SUCCEEDED,
        attempts=attempts,
        duration_s=sum(a.duration_s for a in attempts),
        optional=optional,
        tags=tags,
        log_path="logs/x.log",
    )


def run(*jobs: JobRecord, day: int = 1) -> RunSummary:
    at = f"2026-03-{day:02d}T09:00:00Z"
    return RunSummary(started_at=at, ended_at=at, exit_code=0, jobs=jobs, duration_s=10.0)


def measured(job_id: str, peak: float | None, cpu: float | None, **extra: Any) -> JobRecord:
    return record(job_id, tried(used(peak, cpu, **extra)))


# ------------------------------------------------------------------------ per-job figures
def test_a_jobs_figures_are_its_largest_peak_and_all_its_cpu() -> None:
    usage = job_usage(
        [
            tried(used(300 * MIB, 4.0), seconds=4.0, number=1),
            tried(used(200 * MIB, 2.0), seconds=4.0, number=2),
            tried(None, seconds=100.0, number=3),  # measured nothing: not in the CPU share
        ]
    )
    assert usage is not None
    assert (usage.peak_memory_bytes, usage.cpu_s, usage.cpu_percent) == (300 * MIB, 6.0, 75.0)
    assert job_usage([tried(None)]) is None


def test_sweep_trials_count_in_their_sweep() -> None:
    jobs = [
        record("sweep"),
        record("t0", tried(used(100 * MIB, 1.0)), tags=("sweep:sweep",)),
        record("t1", tried(used(400 * MIB, 2.0)), tags=("sweep:sweep",)),
    ]
    usages = usages_by_job(jobs)
    assert set(usages) == {"sweep"}
    assert (usages["sweep"].peak_memory_bytes, usages["sweep"].cpu_s) == (400 * MIB, 3.0)


@pytest.mark.parametrize("bad", [math.nan, -1.0, math.inf, float(1 << 70), 10**400])
def test_a_figure_no_machine_produces_counts_as_not_measured(bad: float) -> None:
    """A summary is input: NaN, negative or absurd figures become blanks, not bars."""
    usage = job_usage([tried(used(bad, bad)), tried(used(None, None, sample_interval_s=bad))])
    assert usage is not None
    assert (usage.peak_memory_bytes, usage.cpu_s, usage.cpu_percent) == (None, None, None)
    summary = run(record("bad", tried(used(bad, bad))), measured("ok", 100 * MIB, 2.0))
    text = markdown.render(summary, NOWHERE)
    assert "| `bad` | ✅ succeeded | 1 | 10.0s |  |  | " in text
    assert "xychart" not in text  # one job with figures is nothing to compare


# ------------------------------------------------------------------------ step summary
def test_an_unmeasured_run_keeps_the_table_it_always_had() -> None:
    text = markdown.render(run(record("a", tried(None)), record("b", tried(None))), NOWHERE)
    assert "| job | status | tries | time | metrics | gates |" in text
    assert "Peak memory" not in text
    assert "xychart" not in text


@pytest.mark.usefixtures("mermaid_node")
def test_measured_jobs_get_columns_a_method_note_and_bars() -> None:
    summary = run(
        measured("small", 80 * MIB, 0.5),
        measured("big", 2 * GIB, 75.0),
        record("cached"),  # nothing ran: blank cells, no bar
        measured("gpu", 300 * MIB, 12.0, gpu_peak_memory_bytes=3 * GIB),
    )
    text = markdown.render(summary, NOWHERE)
    assert "| job | status | tries | time | peak mem | cpu | gpu mem | metrics | gates |" in text
    assert "|---|---|---:|---:|---:|---:|---:|---|---|" in text
    assert "| `big` | ✅ succeeded | 1 | 10.0s | 2.0 GiB | 1m15s · 750% |  | " in text
    assert "| `gpu` | ✅ succeeded | 1 | 10.0s | 300 MiB | 12.0s · 120% | 3.0 GiB | " in text
    assert "| `cached` | ✅ succeeded | 0 | 0.0s |  |  |  | " in text
    assert "Peak memory is the cgroup's charge (cgroup v1, page cache included)." in text

    memory, cpu = assert_mermaid_ok(text.split("```mermaid\ngantt")[0], count=2)
    assert memory["title"] == "Peak memory per job (MiB)"
    assert memory["xAxis"] == ["big", "gpu", "small"]  # largest first
    assert memory["plots"] == [{"type": "bar", "data": [2048, 300, 80]}]
    assert memory["yRange"] == [0, 2500]  # from zero: bars in proportion
    assert cpu["title"] == "CPU time per job (seconds)"
    assert cpu["plots"] == [{"type": "bar", "data": [75, 12, 0.5]}]


@pytest.mark.usefixtures("mermaid_node")
def test_units_grow_with_the_figures() -> None:
    text = markdown.render(
        run(measured("a", 40 * GIB, 4000.0), measured("b", 12 * GIB, 600.0)), NOWHERE
    )
    memory, cpu = assert_mermaid_ok(text.split("```mermaid\ngantt")[0], count=2)
    assert (memory["title"], memory["plots"][0]["data"]) == ("Peak memory per job (GiB)", [40, 12])
    assert (cpu["title"], cpu["plots"][0]["data"]) == ("CPU time per job (minutes)", [66.6667, 10])


@pytest.mark.usefixtures("mermaid_node")
def test_two_hundred_jobs_chart_the_largest_and_say_so() -> None:
    jobs = [measured(f"job-{n:03d}", (n + 1) * MIB, n / 10) for n in range(200)]
    text = markdown.render(run(*jobs), NOWHERE)
    memory, cpu = assert_mermaid_ok(text.split("```mermaid\ngantt")[0], count=2)
    assert memory["title"] == f"Peak memory top {MAX_BARS} of 200 jobs (MiB)"
    assert memory["xAxis"] == [f"job-{n:03d}" for n in range(199, 199 - MAX_BARS, -1)]
    assert cpu["title"] == f"CPU time top {MAX_BARS} of 200 jobs (seconds)"
    assert len(cpu["plots"][0]["data"]) == MAX_BARS


def test_the_charts_give_way_before_the_timeline() -> None:
    summary = run(*(measured(f"j{n}", (n + 1) * MIB, float(n)) for n in range(30)))
    full = markdown.render(summary, NOWHERE)
    charts = "".join(f"```mermaid\n{b}\n```\n\n" for b in mermaid_blocks(full)[:2])
    text = markdown.render(summary, NOWHERE, limit=len(full.encode()) - len(charts) // 2)
    assert "xychart" not in text
    assert "```mermaid\ngantt" in text
    assert "resource charts left out" in text


def test_cut_labels_stay_distinct() -> None:
    long = "x" * 100
    labels = bar_labels([long, long + "y", "a", "a #2"])
    assert labels[0] == "x" * (LABEL_MAX - 1) + "…"
    assert labels[1] == labels[0] + " #2"
    assert labels[2:] == ["a", "a #2"]
    assert len(set(bar_labels(["a", "a", "a #2", "a #2"]))) == 4


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(
        st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=60)),
        min_size=2,
        max_size=6,
        unique=True,
    ),
    peaks=st.lists(st.integers(min_value=1, max_value=1 << 62), min_size=6, max_size=6),
)
def test_no_job_id_or_figure_breaks_a_resource_chart(ids: list[str], peaks: list[int]) -> None:
    """Whatever the ids hold (quotes, brackets, `%%`, line breaks, Mermaid keywords,
    unicode, 60 characters), each chart has one bar per job, labelled as we meant."""
    summary = run(*(measured(job_id, peak, 1.0) for job_id, peak in zip(ids, peaks, strict=False)))
    text = markdown.render(summary, NOWHERE)
    memory, cpu = assert_mermaid_ok(text.split("```mermaid\ngantt")[0], count=2)
    ranked = sorted(zip(ids, peaks, strict=False), key=lambda pair: -pair[1])
    labels = bar_labels([job_id for job_id, _ in ranked])
    assert memory["xAxis"] == labels  # each as written: nothing left for Mermaid to change
    assert len(set(labels)) == len(labels)
    assert len(memory["plots"][0]["data"]) == len(cpu["plots"][0]["data"]) == len(ids)


@pytest.mark.usefixtures("mermaid_browser")
def test_the_bars_draw_in_a_browser(tmp_path: Path) -> None:
    summary = run(
        measured('quote " and [brackets], %% no directive', 3 * GIB, 40.0),
        measured("ünïcödé 模型 " + "long" * 20, 700 * MIB, 400.0),
        measured("small", 90 * MIB, 2.0),
    )
    blocks = mermaid_blocks(markdown.render(summary, NOWHERE))[:2]
    drawn = render_charts(blocks, pngs=[tmp_path / "memory.png"])
    assert all(chart["ok"] for chart in drawn), drawn
    svg = drawn[0]["svg"]
    assert "quote ' and [brackets], __ no directive" in svg
    assert "ünïcödé 模型 long" in svg
    assert (tmp_path / "memory.png").read_bytes().startswith(b"\x89PNG")


# -------------------------------------------------------------------------------- show
def test_show_prints_the_columns_and_bars(capsys: pytest.CaptureFixture[str]) -> None:
    summary = run(measured("big", 2 * GIB, 75.0), measured("small", 40 * MIB, 0.5))
    print_show(summary, NOWHERE)
    out = capsys.readouterr().out
    assert re.search(r"^big +succeeded +1 +10\.0s +2\.0 GiB +1m15s · 750% ", out, re.M)
    assert re.search(r"^small +succeeded +1 +10\.0s +40 MiB +0\.5s · 5% ", out, re.M)
    assert "peak memory per job" in out
    assert re.search(r"^  big +█{40} +2\.0 GiB$", out, re.M)
    assert re.search(r"^  small +█ +40 MiB$", out, re.M)  # 2% of the longest: one block


# ----------------------------------------------------------------------------- compare
@pytest.mark.parametrize(
    ("base", "head", "regression"),
    [
        ((GIB, 10.0), (1.4 * GIB, 10.0), "peak_memory"),  # +40%
        ((GIB, 10.0), (1.3 * GIB, 13.0), None),  # exactly the tolerance is allowed
        ((10 * MIB, 10.0), (40 * MIB, 10.0), None),  # +300% but 30 MiB: noise
        ((100 * MIB, 10.0), (140 * MIB, 10.0), None),  # +40% but 40 MiB: noise
        ((GIB, 10.0), (GIB, 14.0), "cpu_time"),
        ((GIB, 0.2), (GIB, 0.9), None),  # +350% but 0.7 s: noise
        ((2 * GIB, 20.0), (GIB, 5.0), None),  # less is never a regression
    ],
)
def test_a_resource_regression_needs_the_fraction_and_the_floor(
    base: tuple[float, float], head: tuple[float, float], regression: str | None
) -> None:
    comparison = compare(run(measured("a", *base)), run(measured("a", *head), day=2))
    found = [r.resource for r in comparison.regressions]  # type: ignore[union-attr]
    assert found == ([regression] if regression else [])


def test_tolerances_come_from_the_flags_and_each_jobs_config() -> None:
    base = run(measured("a", GIB, 10.0), measured("b", GIB, 10.0))
    head = run(measured("a", 2 * GIB, 30.0), measured("b", 2 * GIB, 30.0), day=2)
    assert len(compare(base, head).regressions) == 4
    lenient = compare(base, head, resource_tolerance={"peak_memory": 1.5, "cpu_time": 0.3})
    assert [(r.job, r.resource) for r in lenient.regressions] == [  # type: ignore[union-attr]
        ("a", "cpu_time"),
        ("b", "cpu_time"),
    ]
    per_job = compare(base, head, resource_tolerances={"b": {"cpu_time": 5.0}})
    assert {(r.job, r.resource) for r in per_job.regressions} == {  # type: ignore[union-attr]
        ("a", "peak_memory"),
        ("a", "cpu_time"),
        ("b", "peak_memory"),
    }


def test_optional_and_unmeasured_jobs_do_not_regress() -> None:
    base = run(
        record("opt", tried(used(GIB, 10.0)), optional=True),
        record("old", tried(None)),  # a summary from before measuring
    )
    head = run(
        record("opt", tried(used(4 * GIB, 90.0)), optional=True),
        measured("old", 4 * GIB, 90.0),
        day=2,
    )
    comparison = compare(base, head)
    assert comparison.regressions == ()
    assert [r.resource for r, regressed in comparison.changed_resources] == [
        "peak_memory",
        "cpu_time",
    ]  # the optional job's growth is listed, not counted


def test_every_compare_format_flags_a_resource_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = run(measured("a", GIB, 10.0), measured("b", GIB, 60.0))
    head = run(measured("a", 1.5 * GIB, 10.0), measured("b", GIB, 20.0), day=2)
    comparison = compare(base, head)

    text = compare_markdown(comparison)
    assert "❌ 1 regression · 1 resource grew · 1 resource shrank" in text
    row = "| `a` | peak memory | 1.0 GiB | 1.5 GiB | +512 MiB (+50%) ❌ | **regression**"
    assert row + " (over +30%) |" in text
    assert "| `b` | CPU time | 1m00s | 20.0s | -40.0s (-67%) ✅ |  |" in text

    data = json.loads(json.dumps(compare_json(comparison), allow_nan=False))
    assert data["regressions"] == [
        {"job": "a", "kind": "resource", "metric": None, "resource": "peak_memory", "relative": 0.5}
    ]
    memory = data["jobs"][0]["resources"][0]
    assert memory == {
        "resource": "peak_memory",
        "base": GIB,
        "head": 1.5 * GIB,
        "delta": 0.5 * GIB,
        "relative": 0.5,
        "tolerance": 0.3,
        "noise": False,
        "regression": True,
    }

    print_compare(comparison)
    out = capsys.readouterr().out
    assert re.search(
        r"^a +peak memory +1\.0 GiB +1\.5 GiB +\+512 MiB \(\+50%\) +regression", out, re.M
    )
    assert NOISE_FLOOR["peak_memory"] == 50 * MIB


# ------------------------------------------------------------------------------- trend
@pytest.mark.usefixtures("mermaid_node")
def test_trend_draws_resources_over_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [
        run(record("a", tried(None)), day=1),  # before measuring: a gap, not a zero
        run(measured("a", 100 * MIB, 2.0), day=2),
        run(measured("a", 300 * MIB, 5.0), day=3),
    ]
    series = trend(runs)
    text = trend_markdown(series)
    charts = assert_mermaid_ok(text)
    memory = next(c for c in charts if c["title"] == "a: peak memory")
    assert (memory["yAxis"], memory["xAxis"]) == ("MiB", ["03-02 09:00", "03-03 09:00"])
    assert memory["plots"] == [{"type": "line", "data": [100, 300]}]
    cpu = next(c for c in charts if c["title"] == "a: CPU time")
    assert (cpu["yAxis"], cpu["plots"][0]["data"]) == ("seconds", [2, 5])

    print_trend(series)
    out = capsys.readouterr().out
    assert re.search(r"^a +peak memory +▁█ +300 MiB$", out, re.M)
    assert re.search(r"^a +CPU time +▁█ +5\.0s$", out, re.M)


# ---------------------------------------------------------------------- old summaries
def test_old_summaries_load_and_render(capsys: pytest.CaptureFixture[str]) -> None:
    """Version 2 without usage, and a usage object from before some of its fields."""
    job = {
        "id": "a",
        "script": "train_a.py",
        "argv": ["python", "train_a.py"],
        "status": "succeeded",
        "reason": None,
        "optional": False,
        "tags": [],
        "attempts": [
            {
                "number": 1,
                "status": "succeeded",
                "started_at": "2026-03-01T09:00:00Z",
                "duration_s": 4.0,
                "exit_code": 0,
                "signal": None,
                "node": None,
                "error": None,
            }
        ],
        "duration_s": 4.0,
        "log_path": "logs/a.log",
        "output_dir": "results/a",
        "metrics": {"accuracy": 0.9},
        "gates": [],
        "headline": None,
        "needs": [],
        "from_run": None,
        "sweep": None,
    }
    old = from_document(summary_document([job], started_at="2026-03-01T09:00:00Z"), "old")
    assert "| job | status | tries | time | metrics | gates |" in markdown.render(old, NOWHERE)
    print_show(old, NOWHERE)
    assert "peak mem" not in capsys.readouterr().out

    partial = {**job, "id": "b"}
    partial["attempts"] = [{**job["attempts"][0], "usage": {"method": "sampled", "cpu_s": 2.0}}]
    both = from_document(
        summary_document([job, partial], started_at="2026-03-02T09:00:00Z"), "partial"
    )
    text = markdown.render(both, NOWHERE)
    assert "| `b` | ✅ succeeded | 1 | 4.0s |  | 2.0s · 50% | accuracy 0.9 | — |" in text
    assert compare(old, both).regressions == ()


# -------------------------------------------------------------------- a real run pair
HOG = """
import argparse, json, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
args = parser.parse_args()
blob = bytearray({mib} << 20)
for i in range(0, len(blob), 4096):
    blob[i] = 1
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({{"accuracy": 0.9}}))
"""


def test_a_real_run_shows_and_compares_what_its_jobs_used(project: Project) -> None:
    project.script("training/train_hog.py", HOG.format(mib=150))
    project.script("training/train_lean.py", HOG.format(mib=1))
    assert project.run().returncode == 0
    base = project.root / "summaries/base.json"
    base.write_text((project.root / "summaries/latest.json").read_text())

    text = (project.root / "summaries/summary.md").read_text()
    memory, _cpu, _gantt = assert_mermaid_ok(text, count=3)
    assert memory["xAxis"] == ["hog", "lean"]
    hog, lean = memory["plots"][0]["data"]
    assert 150 <= hog < 150 * 1.1 + 30  # the interpreter's own few MiB on top
    assert lean < 60
    shown = project.run("show")
    assert re.search(
        r"^hog +succeeded +1 +\d+\.\ds +1\d\d MiB +\d+\.\ds · \d+% ", shown.stdout, re.M
    )

    project.script("training/train_hog.py", HOG.format(mib=300))
    assert project.run().returncode == 0
    latest = project.root / "summaries/latest.json"
    grown = project.run("compare", str(base), str(latest), "--fail-on-regression")
    assert grown.returncode == 1, grown.stdout + grown.stderr
    assert grown.stdout.splitlines()[0] == "❌ 1 regression · 1 resource grew"
    assert re.search(r"^hog +peak memory +1\d\d MiB +3\d\d MiB .* regression", grown.stdout, re.M)
    allowed = project.run(
        "compare", str(base), str(latest), "--fail-on-regression", "--memory-tolerance", "2"
    )
    assert allowed.returncode == 0, allowed.stdout
    project.config("configs/jobs.yaml", "jobs:\n  hog:\n    resource_tolerance: {peak_memory: 2}\n")
    assert project.run("compare", str(base), str(latest), "--fail-on-regression").returncode == 0

    lines = project.run("trend", str(base), str(latest), "--format", "markdown").stdout
    charts = assert_mermaid_ok(lines)
    drawn = next(c for c in charts if c["title"] == "hog: peak memory")
    before, after = drawn["plots"][0]["data"]
    assert (150 <= before < 195, 300 <= after < 360) == (True, True)


@pytest.mark.usefixtures("mermaid_node")
def test_the_readmes_charts_are_ones_mermaid_draws() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    charts = assert_mermaid_ok(readme)
    memory = next(c for c in charts if c.get("title") == "Peak memory per job (MiB)")
    assert memory["plots"][0]["type"] == "bar"
