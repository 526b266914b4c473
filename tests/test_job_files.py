"""What a job does to the files we write, and what a job that cannot start reads as.

Real runs of the CLI: a program that cannot be executed, a log a job swapped for a symlink
to a file outside the output root, and a descriptor limit lower than the workers need.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import SHIM, Project

#: Replaces the job's own log with a symlink to $OUTSIDE, as a careless job could.
SWAP_LOG = """
import os, sys
log = os.path.join("logs", os.environ["TRAIN_ORCH_JOB_ID"] + ".log")
os.remove(log)
os.symlink(os.environ["OUTSIDE"], log)
sys.exit(int(sys.argv[1]))
"""


def test_a_job_that_cannot_start_says_so_in_every_report(project: Project, tmp_path: Path) -> None:
    (project.root / "training").mkdir()
    (project.root / "training/run.sh").write_text("#!/bin/sh\necho hi\n")  # no execute bit
    (project.root / "adir").mkdir()
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          noexec: {command: [training/run.sh], retries: 2}
          missing: {command: [no-such-program-xyz]}
          directory: {command: [./adir]}
        """,
    )
    step_summary = tmp_path / "step_summary.md"
    result = project.run(env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary)})
    expected = {
        "noexec": "could not start: training/run.sh: Permission denied",
        "missing": "could not start: no-such-program-xyz: No such file or directory",
        "directory": "could not start: ./adir: Permission denied",
    }
    jobs = project.jobs()
    assert {id_: (job["status"], job["reason"]) for id_, job in jobs.items()} == {
        id_: ("failed", reason) for id_, reason in expected.items()
    }
    # A missing or unrunnable program is still so a few seconds later: no retries.
    assert [a["exit_code"] for a in jobs["noexec"]["attempts"]] == [127]
    suite = ET.parse(project.root / "summaries/junit.xml").getroot()
    failures = {
        case.get("name"): failure.get("message")
        for case in suite.iter("testcase")
        if (failure := case.find("failure")) is not None
    }
    assert failures == expected
    markdown = (project.root / "summaries/summary.md").read_text()
    for id_, reason in expected.items():
        assert f"| `{id_}` | ❌ failed | 1 | " in markdown
        assert reason in markdown
        assert reason in result.stdout
        assert reason in step_summary.read_text()
    assert "exit 127" not in markdown


def swapping_job(project: Project, retries: int, exit_code: int) -> None:
    project.script("swap.py", SWAP_LOG)
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          swapper: {{command: [{sys.executable}, swap.py, "{exit_code}"], retries: {retries},
                     retry_delay: 0, cache: false}}
        """,
    )


def test_a_log_swapped_for_a_symlink_is_not_followed_by_the_next_run(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    swapping_job(project, retries=0, exit_code=0)
    first = project.run(env={"OUTSIDE": str(outside)})
    assert first.returncode == 0, first.stdout + first.stderr
    assert (project.root / "logs/swapper.log").is_symlink()
    second = project.run(env={"OUTSIDE": str(outside)})
    assert outside.read_text() == "precious\n"
    assert second.returncode == 1
    job = project.jobs()["swapper"]
    assert (job["status"], job["reason"]) == (
        "failed",
        "log logs/swapper.log is a symlink; not written",
    )


def test_a_retry_does_not_append_to_the_symlink_its_last_attempt_left(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    swapping_job(project, retries=2, exit_code=1)
    result = project.run(env={"OUTSIDE": str(outside)})
    assert outside.read_text() == "precious\n"
    assert result.returncode == 1
    job = project.jobs()["swapper"]
    assert job["reason"] == "log logs/swapper.log is a symlink; not written"
    # The symlink is still there for the next attempt: retrying cannot help either.
    assert [a["status"] for a in job["attempts"]] == ["failed", "failed"]


def test_a_symlinked_logs_dir_is_refused_before_anything_runs(
    project: Project, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project.config("configs/jobs.yaml", "jobs:\n  echo: {command: [echo, hi]}\n")
    (project.root / "logs").symlink_to(elsewhere)
    result = project.run()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: logs is a symlink (to {elsewhere}): nothing is written outside the output root"
    ]
    assert list(elsewhere.iterdir()) == []
    assert not (project.root / "summaries").exists()


def limit_descriptors(soft: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_workers_are_lowered_to_the_descriptors_there_are(project: Project) -> None:
    jobs = "".join(f"  j{n}: {{command: [sleep, '0.2']}}\n" for n in range(30))
    project.config("configs/jobs.yaml", f"jobs:\n{jobs}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    result = subprocess.run(
        [sys.executable, str(SHIM), "--parallel", "--max-workers", "30", "--cpus", "30"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: limit_descriptors(40),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {job["status"] for job in project.jobs().values()} == {"succeeded"}
    warnings = [line for line in result.stderr.splitlines() if "lowered" in line]
    assert len(warnings) == 1, result.stderr
    assert re.fullmatch(
        r"warning: --max-workers 30 lowered to \d+: only 40 file descriptors \(ulimit -n\)",
        warnings[0],
    )
