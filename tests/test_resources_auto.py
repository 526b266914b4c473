"""`memory: auto` / `cpus: auto` (issue 19, "Learned needs"): each job's last measured
success, read from the summaries before planning, decides what it holds.

The resolution and the reading are values tested in process; the real runs show that a
run's own summary is what the next plan learns from, and that learned memory packs real
processes (proven from their timestamps).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, summary_document

from orchestrator.models import AUTO, JobSpec
from orchestrator.resources import Pool, needs
from orchestrator.run_summary.measured import LOOKBACK, Measured, last_measured

MIB = 1 << 20
GIB = 1 << 30
RUN = "20261129T161200Z"


def spec(**fields: Any) -> JobSpec:
    return JobSpec(id="fit", command=("true",), **fields)


# ------------------------------------------------------------------------ resolving
def test_memory_is_the_last_peak_plus_a_fifth() -> None:
    got = needs(spec(memory=AUTO), Measured(RUN, 812 * MIB, 90.0), 4, Pool(memory=8 * GIB))
    assert got.memory == int(812 * MIB * 1.2) + 1  # rounded up to a whole byte
    assert got.learned == (("memory", f"auto: 812 MiB peak of run {RUN} + 20 %"),)
    assert got.cpus == 1  # not auto: as configured


def test_a_tiny_peak_still_holds_the_floor_and_a_huge_one_is_capped_at_the_pool() -> None:
    tiny = needs(spec(memory=AUTO), Measured(RUN, 5 * MIB, None), 4, Pool(memory=GIB))
    assert tiny.memory == 64 * MIB
    assert tiny.learned[0][1].endswith("+ 20 %, at least 64 MiB")
    huge = needs(spec(memory=AUTO), Measured(RUN, 2 * GIB, None), 4, Pool(memory=GIB))
    assert huge.memory == GIB  # it ran in 2 GiB before: alone, it may again
    assert huge.learned[0][1].endswith(", capped at all 1.0 GiB")


def test_cpus_are_the_mean_use_rounded_up_within_the_machine() -> None:
    def cpus(percent: float | None, total: int = 8) -> int:
        return needs(spec(cpus=AUTO), Measured(RUN, None, percent), total, Pool()).cpus

    assert [cpus(15.1), cpus(100.0), cpus(100.4), cpus(340.0), cpus(900.0, total=4)] == [
        1,
        1,
        1,  # 100.4 % is one busy core measured a little high, not two
        4,
        4,
    ]
    got = needs(spec(cpus=AUTO), Measured(RUN, None, 340.0), 8, Pool())
    assert got.learned == (("cpus", f"auto: 340 % mean CPU in run {RUN}"),)


def test_with_nothing_measured_an_auto_job_holds_everything_so_its_first_run_is_alone() -> None:
    got = needs(spec(cpus=AUTO, memory=AUTO), None, 4, Pool(memory=3 * GIB))
    assert (got.cpus, got.memory) == (4, 3 * GIB)
    assert dict(got.learned) == {
        "cpus": "auto: nothing measured yet, so all 4 cpus (its first run, alone)",
        "memory": "auto: nothing measured yet, so all 3.0 GiB (its first run, alone)",
    }
    on_ray = needs(spec(memory=AUTO), None, 4, Pool())
    assert on_ray.memory is None


# ------------------------------------------------------------------------- reading
def record(job_id: str, status: str = "succeeded", **usage: Any) -> dict[str, Any]:
    attempt: dict[str, Any] = {
        "number": 1,
        "status": status,
        "started_at": "2026-11-29T16:12:00.000Z",
        "duration_s": 1.0,
        "exit_code": 0 if status == "succeeded" else 1,
        "signal": None,
        "node": None,
        "error": None,
    }
    if usage:
        attempt["usage"] = {"method": "sampled", **usage}
    return {
        "id": job_id,
        "script": "",
        "argv": ["true"],
        "status": status,
        "reason": None,
        "optional": False,
        "tags": [],
        "attempts": [attempt],
        "duration_s": 1.0,
        "log_path": f"logs/{job_id}.log",
        "output_dir": f"results/{job_id}_results",
        "metrics": {},
        "gates": [],
        "headline": None,
        "needs": [],
        "from_run": None,
        "sweep": None,
    }


def write_run(summaries: Path, run_id: str, *jobs: dict[str, Any]) -> None:
    summaries.mkdir(parents=True, exist_ok=True)
    document = summary_document(jobs, started_at="2026-11-29T16:12:00Z")
    (summaries / f"training_summary_{run_id}.json").write_text(json.dumps(document))


def test_each_job_takes_its_newest_measured_success(tmp_path: Path) -> None:
    write_run(tmp_path, "20261101T000000Z", record("a", peak_memory_bytes=100 * MIB))
    write_run(
        tmp_path,
        "20261102T000000Z",
        record("a", peak_memory_bytes=200 * MIB, mean_cpu_percent=80.0),
        record("b", peak_memory_bytes=50 * MIB),
    )
    write_run(  # the newest: a failed here (an OOM's peak is its limit, not its need)
        tmp_path,
        "20261102T000000Z_2",
        record("a", "out_of_memory", peak_memory_bytes=999 * MIB),
        record("b"),  # succeeded, but measured nothing (off Linux)
    )
    (tmp_path / "training_summary_20261103T000000Z.json").write_text("{not json")
    assert last_measured(tmp_path, ["a", "b", "c"]) == {
        "a": Measured("20261102T000000Z", 200 * MIB, 80.0),
        "b": Measured("20261102T000000Z", 50 * MIB, None),
    }


def test_a_sweep_learns_the_most_any_of_its_trials_used(tmp_path: Path) -> None:
    trials = [
        {
            **record(f"tune#{n}", peak_memory_bytes=peak, mean_cpu_percent=cpu),
            "tags": ["sweep:tune"],
        }
        for n, peak, cpu in ((1, 300 * MIB, 50.0), (2, 100 * MIB, 180.0))
    ]
    failed = {**record("tune#3", "failed", peak_memory_bytes=GIB), "tags": ["sweep:tune"]}
    write_run(tmp_path, RUN, record("tune"), *trials, failed)
    assert last_measured(tmp_path, ["tune"]) == {"tune": Measured(RUN, 300 * MIB, 180.0)}


def test_only_the_newest_summaries_are_read(tmp_path: Path) -> None:
    write_run(tmp_path, "20261001T000000Z", record("old", peak_memory_bytes=MIB))
    for day in range(1, LOOKBACK + 1):
        write_run(tmp_path, f"202611{day:02d}T000000Z", record("a", peak_memory_bytes=MIB))
    assert set(last_measured(tmp_path, ["a", "old"])) == {"a"}
    assert last_measured(tmp_path / "none", ["a"]) == {}


# --------------------------------------------------------------------- real runs
#: Holds 200 MB and burns CPU on two threads' worth of work for a moment.
HUNGRY = """
import time
held = bytearray(200_000_000)
for i in range(0, len(held), 4096):
    held[i] = 1
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
"""


def test_the_next_plan_learns_from_this_runs_summary(project: Project) -> None:
    project.script("tools/hungry.py", HUNGRY)
    project.config(
        "configs/jobs.yaml",
        f"jobs:\n  hungry:\n    command: [{sys.executable!r}, tools/hungry.py]\n"
        "    memory: auto\n    cpus: auto\n",
    )
    before = project.run("--no-auto-discover", "--dry-run", "--cpus", "2", "--memory", "3G")
    assert "# memory auto: nothing measured yet, so all 3.0 GiB" in before.stdout
    assert project.run("--no-auto-discover", "--cpus", "2", "--memory", "3G").returncode == 0
    attempt = project.jobs()["hungry"]["attempts"][0]
    peak = attempt["usage"]["peak_memory_bytes"]
    (written,) = (project.root / "summaries").glob("training_summary_*.json")
    run_id = written.stem.removeprefix("training_summary_")
    listing = project.run("--no-auto-discover", "--list", "--format", "json", "--memory", "3G")
    learned = json.loads(listing.stdout)["jobs"][0]["learned"]
    assert learned["memory"]["value"] == max(-(-peak * 6 // 5), 64 * MIB)
    source = learned["memory"]["source"]
    assert source.startswith("auto: ") and source.endswith(" + 20 %")
    assert f"peak of run {run_id}" in source
    plan = json.loads(
        project.run("--no-auto-discover", "--dry-run", "--format", "json", "--memory", "3G").stdout
    )
    job = plan["jobs"][0]
    assert job["memory_bytes"] == learned["memory"]["value"]
    assert job["learned"] == {"cpus": learned["cpus"]["source"], "memory": source}


#: Records when it ran.
STAMP = """
import json, pathlib, sys, time
marks = pathlib.Path("marks")
marks.mkdir(exist_ok=True)
start = time.time()
time.sleep(0.3)
(marks / f"{sys.argv[1]}.json").write_text(json.dumps({"start": start, "end": time.time()}))
"""


def test_learned_memory_keeps_two_jobs_that_would_not_fit_apart(project: Project) -> None:
    """Both peaked at 500 MiB last time: 600 MiB each with the margin, and 1 GiB holds one."""
    project.script("tools/stamp.py", STAMP)
    lines = ["jobs:"]
    for name in ("a", "b"):
        lines += [
            f"  {name}:",
            f"    command: [{sys.executable!r}, tools/stamp.py, {name}]",
            "    memory: auto",
        ]
    project.config("configs/jobs.yaml", "\n".join(lines) + "\n")
    peaks = [record(name, peak_memory_bytes=500 * MIB) for name in ("a", "b")]
    write_run(project.root / "summaries", "20261129T000000Z", *peaks)
    args = ("--no-auto-discover", "--parallel", "--max-workers", "2", "--cpus", "2")
    result = project.run(*args, "--memory", "1G")
    assert result.returncode == 0, result.stdout + result.stderr
    a, b = (json.loads((project.root / "marks" / f"{n}.json").read_text()) for n in "ab")
    assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "memory: automatic",
            "jobs.a.memory: expected a size like 512M or 2G, got str 'automatic'; or auto, "
            "learned from its last run",
        ),
        (
            "cpus: Auto",
            "jobs.a.cpus: expected a whole number, got str 'Auto'; or auto, learned from its "
            "last run",
        ),
    ],
)
def test_auto_is_spelt_exactly(project: Project, line: str, message: str) -> None:
    project.config("configs/jobs.yaml", f"jobs:\n  a:\n    command: 'true'\n    {line}\n")
    result = project.run("--no-auto-discover", "--dry-run")
    assert result.returncode == 2
    assert message in result.stderr
