"""What the output root gets: files others may read, and a clear refusal when it is full."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys

import pytest
from conftest import SHIM, Project


def run_with(project: Project, preexec: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    return subprocess.run(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=preexec,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_reports_respect_the_umask(project: Project, umask: int, mode: int) -> None:
    project.script("training/train_a.py")
    result = run_with(project, lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    summaries = project.root / "summaries"
    for name in ("latest.json", "summary.md", "junit.xml"):
        assert stat.S_IMODE((summaries / name).stat().st_mode) == mode, name
    log = project.root / "logs/a.log"
    assert stat.S_IMODE(log.stat().st_mode) == mode  # as the logs always were


def test_an_output_root_that_takes_no_bytes_is_one_line_and_exit_2(project: Project) -> None:
    project.script("training/train_a.py")

    def no_room() -> None:  # writes fail as on a full disk (EFBIG instead of ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    result = run_with(project, no_room)
    assert result.returncode == 2
    assert result.stderr == f"error: cannot write to {project.root}: File too large\n"
