"""What each attempt used, through the real CLI: in the summary, and why a job died.

With the cgroups this host gives us and with sampling forced (TRAIN_ORCH_CGROUP=off):
the summary's attempts carry their usage (checked against the published schema), and a
job over its `memory_limit` is `out_of_memory` with its peak, never a bare signal 9.
"""

from __future__ import annotations

import sys

import pytest
from conftest import Project
from test_metering import MB, TWO_PROCESSES

from orchestrator.execute.memory_cgroups import MemoryCgroups

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: Holds 300 MB, far over the 150M limit, until it is stopped.
GREEDY = "held = bytearray(b'x') * 300_000_000\nimport time\ntime.sleep(30)\n"


@pytest.fixture(params=["cgroups", "sampled"])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sampled":
        return {"TRAIN_ORCH_CGROUP": "off"}
    probe = MemoryCgroups.make()
    if probe is None:
        pytest.skip("no v1 memory cgroup of ours to write here")
    probe.close()
    return {}


def test_each_attempt_records_what_its_whole_tree_used(
    project: Project, env: dict[str, str]
) -> None:
    project.script("tools/two.py", TWO_PROCESSES)
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          two:
            command: [{sys.executable!r}, tools/two.py, cpu]
        """,
    )
    result = project.run("--no-auto-discover", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    usage = project.jobs()["two"]["attempts"][0]["usage"]
    assert usage["method"] == ("sampled" if env else "cgroup-v1")
    assert usage["cpu_s"] == pytest.approx(float((project.root / "cpu").read_text()), rel=0.1)
    assert usage["peak_memory_bytes"] == pytest.approx(300 * MB, rel=0.1)
    assert usage["mean_cpu_percent"] > 0
    assert usage["oom_killed"] is False
    assert usage["memory_limit_bytes"] is None


def test_a_job_over_its_memory_limit_is_out_of_memory_with_its_peak(
    project: Project, env: dict[str, str]
) -> None:
    project.script("tools/greedy.py", GREEDY)
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          greedy:
            command: [{sys.executable!r}, tools/greedy.py]
            memory_limit: 150M
            retries: 1
            retry_delay: 0
            grace: 1
        """,
    )
    result = project.run("--no-auto-discover", env=env)
    assert result.returncode == 1
    job = project.jobs()["greedy"]
    assert job["status"] == "out_of_memory"
    # Not retried: retry_on does not name out_of_memory by default.
    assert [a["status"] for a in job["attempts"]] == ["out_of_memory"]
    usage = job["attempts"][0]["usage"]
    assert usage["oom_killed"] is True
    assert usage["memory_limit_bytes"] == 150 << 20
    assert job["reason"].startswith("over memory_limit 150 MiB (peak ")
    if not env:  # the kernel held it to its limit
        assert usage["peak_memory_bytes"] == pytest.approx(150 << 20, rel=0.02)
    else:  # seen over it, then stopped
        assert usage["peak_memory_bytes"] > 150 << 20
    assert "greedy" in result.stdout and "out_of_memory" in result.stdout


def test_memory_limit_from_the_command_line_and_retried_when_retry_on_says_so(
    project: Project,
) -> None:
    project.script("tools/greedy.py", GREEDY)
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          greedy:
            command: [{sys.executable!r}, tools/greedy.py]
            retries: 1
            retry_delay: 0
            retry_on: [out_of_memory]
            grace: 1
        """,
    )
    result = project.run("--no-auto-discover", "--memory-limit", "150M")
    assert result.returncode == 1
    job = project.jobs()["greedy"]
    assert [a["status"] for a in job["attempts"]] == ["out_of_memory", "out_of_memory"]
    assert job["reason"].startswith("over memory_limit 150 MiB")


def test_memory_limit_flag_refuses_what_is_not_a_size(project: Project) -> None:
    result = project.run("--no-auto-discover", "--memory-limit", "lots")
    assert result.returncode == 2
    assert "'lots' is not a size of at least 1M, like 512M or 2G" in result.stderr
