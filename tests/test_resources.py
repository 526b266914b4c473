"""Scheduling by memory (issue 19, "Schedule"): refused at plan time when a job can never
fit, and real processes that do not fit together never overlap, proven from timestamps.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Project

from orchestrator.config import load_configs
from orchestrator.errors import ConfigError
from orchestrator.jobs import merge
from orchestrator.models import RunOptions
from orchestrator.plan import build_plan
from orchestrator.resources import Pool, given_memory, memory_from_available

MIB = 1 << 20
GIB = 1 << 30


def plan_config(root: Path, text: str, pool: Pool) -> None:
    path = root / "configs" / "jobs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    specs = merge((), load_configs([path], root), root)
    build_plan(specs, RunOptions(), python="python3", cpu_count=2, pool=pool)


def test_a_job_that_can_never_fit_is_refused_naming_its_line(tmp_path: Path) -> None:
    text = "jobs:\n  small:\n    command: 'true'\n  big:\n    command: 'true'\n    memory: 2G\n"
    with pytest.raises(ConfigError) as caught:
        plan_config(tmp_path, text, given_memory(GIB))
    assert str(caught.value) == (
        "configs/jobs.yaml:6: jobs.big.memory: big needs 2.0 GiB, more than the "
        "1.0 GiB jobs may share (--memory); lower it, or raise --memory"
    )


def test_one_from_defaults_is_blamed_on_the_defaults_line(tmp_path: Path) -> None:
    text = "defaults:\n  memory: 3G\njobs:\n  a:\n    command: 'true'\n"
    with pytest.raises(ConfigError) as caught:
        plan_config(tmp_path, text, given_memory(GIB))
    assert str(caught.value).startswith("configs/jobs.yaml:2: defaults.memory: a needs 3.0 GiB")


def test_one_that_fits_is_planned_with_its_memory(tmp_path: Path) -> None:
    plan_config(tmp_path, "jobs:\n  a:\n    command: 'true'\n    memory: 1G\n", given_memory(GIB))


def test_the_default_pool_keeps_a_margin_back() -> None:
    assert memory_from_available(20 * GIB).memory == 18 * GIB
    small = memory_from_available(1 * GIB)
    assert small.memory == 768 * MIB  # the margin is at least 256 MiB
    assert small.memory_source == "MemAvailable 1.0 GiB at start less 256 MiB"
    assert memory_from_available(100 * MIB).memory == 0


def test_the_cli_refuses_it_with_exit_2_before_running_anything(project: Project) -> None:
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  big:\n    command: [touch, ran]\n    memory: 2G\n",
    )
    result = project.run("--no-auto-discover", "--memory", "1G")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "configs/jobs.yaml:4: jobs.big.memory: big needs 2.0 GiB" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project.root / "ran").exists()


#: Records when it ran. `meet`: waits until the other job is running too (so a pair that
#: cannot overlap fails here, after its timeout, rather than passing by luck).
STAMP = """
import json, pathlib, sys, time
me, other, mode = sys.argv[1:4]
marks = pathlib.Path("marks")
marks.mkdir(exist_ok=True)
start = time.time()
(marks / f"{me}.running").touch()
deadline = time.monotonic() + 60
while mode == "meet" and not (marks / f"{other}.running").exists():
    assert time.monotonic() < deadline, f"{other} never ran beside {me}"
    time.sleep(0.01)
time.sleep(0.3)
(marks / f"{me}.json").write_text(json.dumps({"start": start, "end": time.time()}))
"""


def stamped_pair(project: Project, mode: str) -> None:
    project.script("tools/stamp.py", STAMP)
    project.config(
        "configs/jobs.yaml",
        f"""
jobs:
  a:
    command: [{sys.executable!r}, tools/stamp.py, a, b, {mode}]
    memory: 700M
  b:
    command: [{sys.executable!r}, tools/stamp.py, b, a, {mode}]
    memory: 700M
""",
    )


def ran(project: Project, job: str) -> tuple[float, float]:
    stamps = json.loads((project.root / "marks" / f"{job}.json").read_text())
    return stamps["start"], stamps["end"]


def test_two_jobs_that_do_not_fit_together_never_overlap(project: Project) -> None:
    stamped_pair(project, "alone")
    args = ("--no-auto-discover", "--parallel", "--max-workers", "2", "--cpus", "2")
    result = project.run(*args, "--memory", "1G")
    assert result.returncode == 0, result.stdout + result.stderr
    (a_start, a_end), (b_start, b_end) = ran(project, "a"), ran(project, "b")
    assert a_end <= b_start or b_end <= a_start, (a_start, a_end, b_start, b_end)


def test_they_overlap_when_they_fit(project: Project) -> None:
    stamped_pair(project, "meet")
    args = ("--no-auto-discover", "--parallel", "--max-workers", "2", "--cpus", "2")
    result = project.run(*args, "--memory", "1400M")
    assert result.returncode == 0, result.stdout + result.stderr
    (a_start, a_end), (b_start, b_end) = ran(project, "a"), ran(project, "b")
    assert a_start < b_end and b_start < a_end
