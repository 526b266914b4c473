"""End to end through the real CLI: real scripts, real processes, real files."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project

FAIL_SCRIPT = """
import argparse, sys
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
parser.parse_args()
print("about to fail", file=sys.stderr)
sys.exit(3)
"""

# Fails on its first attempt, succeeds on the next: the attempt count lives in a file.
FLAKY_SCRIPT = """
import argparse, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args = parser.parse_args()
marker = pathlib.Path(args.output_dir) / "tries"
tries = int(marker.read_text()) + 1 if marker.exists() else 1
marker.write_text(str(tries))
print("try", tries)
sys.exit(1 if tries == 1 else 0)
"""

NO_FLAGS_SCRIPT = """
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "out": os.environ["TRAIN_ORCH_OUTPUT_DIR"],
                  "id": os.environ["TRAIN_ORCH_JOB_ID"]}))
"""

# Records when it ran, so overlap is proven from timestamps rather than assumed.
TIMED_SCRIPT = """
import argparse, json, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args = parser.parse_args()
start = time.time()
time.sleep(0.6)
pathlib.Path(args.output_dir, "span.json").write_text(json.dumps([start, time.time()]))
"""

NO_RETRY_DELAY = "defaults:\n  retry_delay: 0\n"


def attempt_headers(log: Path) -> list[str]:
    return re.findall(r"^=== attempt (\d+/\d+) · ", log.read_text(), flags=re.MULTILINE)


def test_successful_run_writes_logs_results_and_summary(project: Project) -> None:
    project.script("training/train_good.py")
    result = project.run("--epochs", "7")
    assert result.returncode == 0, result.stderr
    job = project.jobs()["good"]
    assert job["status"] == "succeeded"
    assert job["metrics"] == {"accuracy": pytest.approx(0.57)}
    assert job["argv"] == [
        sys.executable,
        "training/train_good.py",
        "--output-dir",
        "results/good_results",
        "--epochs",
        "7",
    ]
    assert (project.root / "results/good_results/metrics.json").is_file()
    log = (project.root / "logs/good.log").read_text()
    assert "trained 7 epochs\n" in log
    assert log.rstrip().endswith("=== exit 0 after " + log.rstrip().rsplit(" ", 1)[1])
    summary = project.summary()
    assert summary["counts"] == {"succeeded": 1}
    assert summary["exit_code"] == 0
    stamped = list((project.root / "summaries").glob("training_summary_*.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text()) == summary
    assert "good" in result.stdout
    assert "summary: summaries/training_summary_" in result.stdout


def test_failure_is_reported_and_fails_the_run(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_bad.py", FAIL_SCRIPT)
    result = project.run()
    assert result.returncode == 1
    jobs = project.jobs()
    assert jobs["good"]["status"] == "succeeded"
    assert jobs["bad"]["status"] == "failed"
    assert jobs["bad"]["reason"] == "exit 3"
    assert [a["exit_code"] for a in jobs["bad"]["attempts"]] == [3]
    assert "about to fail" in (project.root / "logs/bad.log").read_text()


def test_retries_rerun_until_success_and_log_every_attempt(project: Project) -> None:
    project.script("training/train_flaky.py", FLAKY_SCRIPT)
    project.config("configs/jobs.yaml", NO_RETRY_DELAY)
    result = project.run("--retries", "2")
    assert result.returncode == 0, result.stdout
    job = project.jobs()["flaky"]
    assert job["status"] == "succeeded"
    assert [(a["number"], a["status"], a["exit_code"]) for a in job["attempts"]] == [
        (1, "failed", 1),
        (2, "succeeded", 0),
    ]
    log = project.root / "logs/flaky.log"
    assert attempt_headers(log) == ["1/3", "2/3"]
    assert "try 1\n" in log.read_text()
    assert "try 2\n" in log.read_text()


def test_summary_attempts_match_log_headers_when_all_attempts_fail(project: Project) -> None:
    project.script("training/train_bad.py", FAIL_SCRIPT)
    project.config("configs/jobs.yaml", NO_RETRY_DELAY + "jobs:\n  bad:\n    retries: 2\n")
    result = project.run()
    assert result.returncode == 1
    job = project.jobs()["bad"]
    assert len(job["attempts"]) == 3
    assert attempt_headers(project.root / "logs/bad.log") == ["1/3", "2/3", "3/3"]


def test_script_without_flags_gets_none_but_sees_the_env(project: Project) -> None:
    project.script("training/train_plain.py", NO_FLAGS_SCRIPT)
    result = project.run("--epochs", "5", "--folds", "3")
    assert result.returncode == 0, result.stdout
    log = (project.root / "logs/plain.log").read_text().splitlines()
    assert json.loads(log[1]) == {"argv": [], "out": "results/plain_results", "id": "plain"}


def test_unparseable_script_is_listed_and_reported_not_run(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_broken.py", "def oops(:\n    pass\n")
    listing = project.run("--list")
    assert listing.returncode == 0
    broken_row = next(line for line in listing.stdout.splitlines() if line.startswith("broken"))
    assert "syntax error, line 1" in broken_row
    assert "not run" in broken_row
    result = project.run()
    assert result.returncode == 1
    jobs = project.jobs()
    assert jobs["good"]["status"] == "succeeded"
    assert jobs["broken"]["status"] == "failed"
    assert jobs["broken"]["reason"].startswith("not run: syntax error, line 1")
    assert jobs["broken"]["attempts"] == []


def test_duplicate_ids_in_two_roots_both_run(project: Project) -> None:
    project.script("training/train_prep.py")
    project.script("scripts/train_prep.py")
    result = project.run()
    assert result.returncode == 0
    assert (
        "job id 'prep' is used by training/train_prep.py and scripts/train_prep.py" in result.stderr
    )
    jobs = project.jobs()
    assert jobs["prep"]["argv"][1] == "training/train_prep.py"
    assert jobs["prep@scripts"]["argv"][1] == "scripts/train_prep.py"
    assert (project.root / "logs/prep@scripts.log").is_file()
    assert (project.root / "results/prep@scripts_results/metrics.json").is_file()


def spans(project: Project, ids: list[str]) -> list[tuple[float, float]]:
    return [
        tuple(json.loads((project.root / f"results/{i}_results/span.json").read_text()))
        for i in ids
    ]


def test_parallel_jobs_really_overlap(project: Project) -> None:
    for name in ("a", "b"):
        project.script(f"training/train_{name}.py", TIMED_SCRIPT)
    result = project.run("--parallel", "--max-workers", "2")
    assert result.returncode == 0, result.stdout
    (a_start, a_end), (b_start, b_end) = spans(project, ["a", "b"])
    assert a_start < b_end and b_start < a_end


def test_sequential_jobs_never_overlap(project: Project) -> None:
    for name in ("a", "b", "c"):
        project.script(f"training/train_{name}.py", TIMED_SCRIPT)
    assert project.run("--max-workers", "3").returncode == 0  # no --parallel: one at a time
    intervals = sorted(spans(project, ["a", "b", "c"]))
    assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(intervals))


def tree_state(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_dry_run_touches_nothing_and_matches_the_real_run(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_plain.py", NO_FLAGS_SCRIPT)
    project.config("configs/jobs.yaml", "jobs:\n  good:\n    args: {max_depth: 4}\n")
    before = tree_state(project.root)
    dry = project.run("--dry-run", "--format", "json", "--epochs", "2", "--extra-args", "--x 'a b'")
    assert dry.returncode == 0, dry.stderr
    assert tree_state(project.root) == before
    planned = {job["id"]: job["argv"] for job in json.loads(dry.stdout)["jobs"]}
    assert planned["good"][1:] == [
        "training/train_good.py",
        "--output-dir",
        "results/good_results",
        "--epochs",
        "2",
        "--max-depth",
        "4",
        "--x",
        "a b",
    ]
    project.run("--epochs", "2", "--extra-args", "--x 'a b'")
    assert {i: job["argv"] for i, job in project.jobs().items()} == planned


def test_dry_run_text_is_copy_pasteable(project: Project) -> None:
    project.script("training/train_good.py")
    result = project.run("--dry-run", "--extra-args", "--note 'two words'")
    lines = result.stdout.splitlines()
    assert lines[0] == "# good"
    assert lines[1] == "# runs: no earlier success recorded"
    assert lines[2] == (
        f"{sys.executable} training/train_good.py --output-dir results/good_results "
        "--note 'two words'"
    )
    assert lines[-1].startswith("1 job (1 run), one at a time · ")
    assert lines[-1].endswith("nothing has been run")
    assert project.run().returncode == 0
    again = project.run("--dry-run").stdout.splitlines()[-1]
    assert again.startswith("1 job (1 cached), one at a time · ")


def test_exit_codes_for_optional_and_partial_success(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_bad.py", FAIL_SCRIPT)
    project.config("configs/jobs.yaml", "jobs:\n  bad:\n    optional: true\n")
    assert project.run().returncode == 0
    assert project.jobs()["bad"]["status"] == "failed"
    project.config("configs/jobs.yaml", "jobs:\n  bad:\n    optional: false\n")
    assert project.run().returncode == 1
    assert project.run("--allow-partial-success").returncode == 0
    assert project.run("--allow-partial-success", "--only", "bad").returncode == 1


def test_options_from_environment_as_github_sends_them(project: Project) -> None:
    project.script("training/train_a.py")
    project.script("training/train_b.py")
    env = {
        "TRAIN_ORCH_EPOCHS": "4",
        "TRAIN_ORCH_FOLDS": "",
        "TRAIN_ORCH_ONLY": "a",
        "TRAIN_ORCH_PARALLEL": "false",
        "TRAIN_ORCH_DRY_RUN": "true",
        "TRAIN_ORCH_FORMAT": "json",
        "TRAIN_ORCH_VERBOSE": "false",
    }
    result = project.run(env=env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [job["id"] for job in plan["jobs"]] == ["a"]
    assert plan["jobs"][0]["argv"][-2:] == ["--epochs", "4"]
    assert plan["max_workers"] == 1


def test_underscore_flags_and_flag_names_are_honoured(project: Project) -> None:
    project.script(
        "training/train_hf.py",
        """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--output_dir")
        p.add_argument("--num_train_epochs")
        p.parse_args()
    """,
    )
    project.config(
        "configs/jobs.yaml", "jobs:\n  hf:\n    flag_names: {epochs: --num_train_epochs}\n"
    )
    result = project.run("--epochs", "3")
    assert result.returncode == 0, result.stdout
    assert project.jobs()["hf"]["argv"][2:] == [
        "--output_dir",
        "results/hf_results",
        "--num_train_epochs",
        "3",
    ]


def test_command_job_runs_any_argv(project: Project) -> None:
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          export:
            command: sh -c 'echo "$EXPORT_TARGET" > "$TRAIN_ORCH_OUTPUT_DIR/target.txt"'
            env: {EXPORT_TARGET: staging}
    """,
    )
    result = project.run()
    assert result.returncode == 0, result.stdout
    assert (project.root / "results/export_results/target.txt").read_text() == "staging\n"


def test_list_json_reports_standard_flags(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_plain.py", NO_FLAGS_SCRIPT)
    result = project.run("--list", "--format", "json")
    jobs = {job["id"]: job for job in json.loads(result.stdout)["jobs"]}
    assert jobs["good"]["standard_flags"] == {
        "output_dir": "--output-dir",
        "epochs": "--epochs",
        "folds": "--folds",
        "seed": "--seed",
    }
    assert jobs["plain"]["standard_flags"] == {}


def test_stale_metrics_from_an_earlier_run_are_not_reported(project: Project) -> None:
    project.script("training/train_plain.py", NO_FLAGS_SCRIPT)
    stale = project.root / "results/plain_results/metrics.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"accuracy": 0.99}')
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    assert project.run().returncode == 0
    assert project.jobs()["plain"]["metrics"] == {}


def test_readme_example_script_runs_as_documented(project: Project) -> None:
    readme = (REPO / "README.md").read_text()
    source = readme.split("# training/train_tiny.py\n", 1)[1].split("```", 1)[0]
    project.script("training/train_tiny.py", source)
    result = project.run("--folds", "3")
    assert result.returncode == 0, result.stdout
    job = project.jobs()["tiny"]
    assert job["argv"][2:] == ["--output-dir", "results/tiny_results", "--folds", "3"]
    assert job["metrics"]["accuracy"] > 0.9
