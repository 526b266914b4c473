"""A job that tampers with the run's own files: the journal and the reports stay true."""

from __future__ import annotations

import json
from collections.abc import Callable

from conftest import Project

WIPER = """
import argparse, pathlib, shutil
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args = parser.parse_args()
shutil.rmtree("summaries")  # a careless cleanup step
pathlib.Path(args.output_dir).mkdir(parents=True, exist_ok=True)
"""


def test_a_job_that_deletes_summaries_loses_no_journal_line(project: Project) -> None:
    project.script("training/train_a.py")
    project.script("training/train_b_wiper.py", WIPER)
    project.script("training/train_c.py")
    result = project.run()
    assert result.returncode == 0, result.stderr
    (journal,) = (project.root / "summaries").glob("journal_*.jsonl")
    assert f"warning: journal summaries/{journal.name} was deleted during the run" in result.stderr
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert events[0] == "run_started"
    assert events[-1] == "run_finished"
    assert events.count("job_finished") == 3
    assert sorted(project.jobs()) == ["a", "b_wiper", "c"]


LEAKER = """
import os, pathlib, sys
log = pathlib.Path("logs/leaker.log")
log.unlink()
log.symlink_to(pathlib.Path("secret.txt").resolve())
sys.exit(1)
"""


def test_a_log_turned_into_a_symlink_copies_nothing_into_the_reports(project: Project) -> None:
    (project.root / "secret.txt").write_text("the-private-key-0c1d\n")
    project.script("training/train_leaker.py", LEAKER)
    assert project.run().returncode == 1
    for report in ("summary.md", "junit.xml", "latest.json"):
        assert "the-private-key" not in (project.root / "summaries" / report).read_text(), report
    assert (project.root / "secret.txt").read_text() == "the-private-key-0c1d\n"


ODD_METRICS = """
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
out = pathlib.Path(parser.parse_args().output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.93, "converged": True}))
"""


def test_a_note_on_metrics_json_is_shown_where_people_look(project: Project) -> None:
    project.script("training/train_odd.py", ODD_METRICS)
    project.script("training/train_gated.py", ODD_METRICS.replace('"accuracy"', '"acc"'))
    project.config("configs/jobs.yaml", "jobs:\n  gated: {gates: {converged: '>= 1'}}\n")
    result = project.run()
    assert result.returncode == 1
    note = "metrics.json: skipped 1 non-numeric value (converged)"
    jobs = project.jobs()
    assert (jobs["odd"]["status"], jobs["odd"]["reason"]) == ("succeeded", note)
    assert (
        jobs["gated"]["reason"]
        == f"converged missing from metrics.json (gate converged >= 1); {note}"
    )
    table = (project.root / "summaries/summary.md").read_text()
    assert f"| accuracy 0.93 ⚠️ {note} |" in table
    assert f"accuracy 0.93 ⚠ {note}" in result.stdout


SELF_CLEANER = """
import argparse, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
parser.parse_args()
pathlib.Path("logs/cleaner.log").unlink()
sys.exit(2)
"""


def test_a_job_that_deletes_its_log_is_recorded_as_such(project: Project) -> None:
    project.script("training/train_cleaner.py", SELF_CLEANER)
    assert project.run().returncode == 1
    job = project.jobs()["cleaner"]
    assert job["reason"] == "exit 2; its log logs/cleaner.log was deleted during the run"
    text = (project.root / "summaries/summary.md").read_text()
    assert "(log is empty or missing)" in text


SWAPPER = """
import pathlib, shutil
outside = pathlib.Path("../outside")
for name in ("summaries", ".train_orch"):
    shutil.rmtree(name)
    (outside / name).mkdir(parents=True)
    pathlib.Path(name).symlink_to((outside / name).resolve())
"""


def test_dirs_a_job_made_symlinks_get_no_report_written_through_them(
    make_project: Callable[[str], Project],
) -> None:
    """The check when the run begins saw real dirs; a job swapped them for symlinks, and
    the summary, latest.json, junit.xml, summary.md, the journal written back and the
    cache all landed outside the output root."""
    project = make_project("project")
    project.script("training/train_swapper.py", SWAPPER)
    result = project.run()
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: could not write the summary: summaries became a symlink during the run (to "
    )
    assert "the table below is all" in result.stderr
    assert "not written back: summaries is a symlink now" in result.stderr
    assert "swapper  succeeded" in result.stdout
    outside = project.root.parent / "outside"
    assert sorted(p.name for p in outside.rglob("*")) == [".train_orch", "summaries"]  # empty
