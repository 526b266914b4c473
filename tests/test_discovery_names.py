"""Discovered scripts a hostile tree holds: names that are not printable text, sources
Python cannot parse. Each is listed and reported as not run; nothing crashes.

A file name's bytes are its job id's: a newline in one split `--dry-run`'s comment line
into a command of its own, and a byte that is not UTF-8 crashed the run's reports after
every job had run (`'utf-8' codec can't encode character '\\udcff'`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import GOOD_SCRIPT, Project, write

from orchestrator.discovery import discover


@pytest.mark.parametrize(
    ("name", "job_id"),
    [
        (b"train_x\nrm -rf.py", "x\\x0arm -rf"),
        (b"train_\x1b[31mred.py", "\\x1b[31mred"),
        (b"train_caf\xe9.py", "caf\\xe9"),  # Latin-1, not UTF-8
        (b"train_\xc2\x9b2J.py", "\\x9b2J"),  # a C1 control character, as UTF-8
    ],
)
def test_an_unprintable_file_name_is_a_job_that_is_not_run(
    tmp_path: Path, name: bytes, job_id: str
) -> None:
    (tmp_path / "training").mkdir()
    Path(os.fsdecode(os.fsencode(tmp_path / "training") + b"/" + name)).write_text(GOOD_SCRIPT)
    (script,), _ = discover(["training"], tmp_path)
    assert (script.job_id, script.path) == (job_id, f"training/train_{job_id}.py")
    assert script.error == (
        f"its file name is not printable text (training/train_{job_id}.py); rename it"
    )


def test_a_script_python_cannot_parse_is_not_run(tmp_path: Path) -> None:
    write(tmp_path / "training/train_deep.py", "x = " + "-" * 200_000 + "1\n")
    write(tmp_path / "training/train_long.py", "y = " + "+".join(["a"] * 300_000) + "\n")
    scripts, _ = discover(["training"], tmp_path)
    assert [(s.job_id, s.error) for s in scripts] == [
        ("deep", "nested too deeply for Python to parse"),
        ("long", "nested too deeply for Python to parse"),
    ]


def test_a_run_beside_them_reports_every_job(project: Project) -> None:
    project.script("training/train_ok.py")
    Path(os.fsdecode(os.fsencode(project.root / "training") + b"/train_caf\xe9.py")).write_text(
        GOOD_SCRIPT
    )
    preview = project.run("--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "# caf\\xe9\n# not run: its file name is not printable text" in preview.stdout
    result = project.run()
    assert (result.returncode, "Traceback" in result.stderr) == (1, False), result.stderr
    jobs = {job["id"]: job for job in project.summary()["jobs"]}
    assert (jobs["ok"]["status"], jobs["caf\\xe9"]["status"]) == ("succeeded", "failed")
    assert "rename it" in json.dumps(jobs["caf\\xe9"])
