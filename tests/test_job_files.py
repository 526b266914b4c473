"""What a job does to the files we write, and what a job that cannot start reads as.

Real runs of the CLI: a program that cannot be executed, a log a job swapped for a symlink
to a file outside the output root, and a descriptor limit lower than the workers need.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import Project


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
