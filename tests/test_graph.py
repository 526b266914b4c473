"""Job graphs: `needs`, dependency order, upstream failures, and graph errors."""

from __future__ import annotations

import json

from conftest import Project

# Records its env's upstream dirs and any --inputs it was given, then sleeps a little so
# parallel siblings really overlap.
NODE = """
import argparse, json, os, pathlib, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
parser.add_argument("--inputs", nargs="*", default=[])
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
upstream = {k: v for k, v in os.environ.items() if k.startswith("TRAIN_ORCH_NEEDS_")}
(out / "seen.json").write_text(json.dumps({"env": upstream, "inputs": args.inputs}))
time.sleep(0.3)
sys.exit(1 if os.environ["TRAIN_ORCH_JOB_ID"] in os.environ.get("FAIL", "").split() else 0)
"""

DIAMOND = """
jobs:
  b: {needs: [a]}
  c: {needs: [a]}
  d: {needs: [b, c]}
"""


def spans(project: Project) -> dict[str, tuple[float, float]]:
    journal = project.journal()
    start = {r["job"]: r["at"] for r in journal if r["event"] == "attempt_started"}
    end = {r["job"]: r["at"] for r in journal if r["event"] == "attempt_ended"}
    return {job: (start[job], end[job]) for job in start}


def make(project: Project, ids: str, config: str) -> None:
    for job_id in ids.split():
        project.script(f"training/train_{job_id}.py", NODE)
    project.config("configs/jobs.yaml", config)


def test_diamond_runs_in_dependency_order_with_upstream_dirs(project: Project) -> None:
    make(project, "a b c d", DIAMOND)
    result = project.run("--parallel", "--max-workers", "2", "--cpus", "2")
    assert result.returncode == 0, result.stdout
    span = spans(project)
    assert span["b"][0] >= span["a"][1]
    assert span["c"][0] >= span["a"][1]
    assert span["d"][0] >= max(span["b"][1], span["c"][1])
    assert span["b"][0] < span["c"][1] and span["c"][0] < span["b"][1]  # siblings overlap
    seen = json.loads((project.root / "results/d_results/seen.json").read_text())
    assert seen == {
        "env": {
            "TRAIN_ORCH_NEEDS_B_DIR": "results/b_results",
            "TRAIN_ORCH_NEEDS_C_DIR": "results/c_results",
        },
        "inputs": ["results/b_results", "results/c_results"],
    }


def test_failing_middle_job_skips_exactly_its_descendants(project: Project) -> None:
    make(
        project,
        "a b c d e f",
        "jobs:\n  b: {needs: [a]}\n  c: {needs: [a]}\n  d: {needs: [b]}\n  e: {needs: [d]}\n",
    )
    result = project.run(env={"FAIL": "b"})
    assert result.returncode == 1
    jobs = project.jobs()
    assert {i: j["status"] for i, j in jobs.items()} == {
        "a": "succeeded",
        "b": "failed",
        "c": "succeeded",
        "d": "skipped",
        "e": "skipped",
        "f": "succeeded",
    }
    assert jobs["d"]["reason"] == "upstream 'b' failed"
    assert jobs["e"]["reason"] == "upstream 'd' skipped"
    assert jobs["d"]["attempts"] == []


def test_cycle_is_a_config_error_with_the_path(project: Project) -> None:
    make(project, "a b c", "jobs:\n  a: {needs: [c]}\n  b: {needs: [a]}\n  c: {needs: [b]}\n")
    result = project.run("--list")
    assert result.returncode == 2
    assert "error: configs/jobs.yaml:2: jobs.a.needs: dependency cycle: a → c → b → a" in (
        result.stderr
    )


def test_unknown_and_self_needs_are_config_errors(project: Project) -> None:
    make(project, "alpha", "jobs:\n  alpha:\n    epochs: 2\n    needs: [alpah]\n")
    result = project.run("--dry-run")
    assert result.returncode == 2
    assert (
        "error: configs/jobs.yaml:4: jobs.alpha.needs: a job cannot need itself"
        not in result.stderr
    )
    assert "jobs.alpha.needs: unknown job 'alpah'; did you mean 'alpha'?" in result.stderr
    project.config("configs/jobs.yaml", "jobs:\n  alpha: {needs: [alpha]}\n")
    result = project.run("--dry-run")
    assert "error: configs/jobs.yaml:2: jobs.alpha.needs: a job cannot need itself" in (
        result.stderr
    )


def test_only_pulls_in_needs_unless_no_deps(project: Project) -> None:
    make(project, "a b c d", DIAMOND)
    plan = json.loads(project.run("--only", "b", "--dry-run", "--format", "json").stdout)
    assert [job["id"] for job in plan["jobs"]] == ["a", "b"]
    assert plan["edges"] == [["a", "b"]]
    result = project.run("--only", "b", "--no-deps", "--dry-run")
    assert result.stdout.splitlines()[:2] == [
        "# b",
        "# uses a's output as it is on disk (--no-deps)",
    ]
    no_deps = json.loads(
        project.run("--only", "b", "--no-deps", "--dry-run", "--format", "json").stdout
    )
    (job,) = no_deps["jobs"]
    assert job["needs"] == [] and job["needs_outside_run"] == ["a"]
    assert job["env"]["TRAIN_ORCH_NEEDS_A_DIR"] == "results/a_results"


def test_excluding_a_need_is_an_error_unless_no_deps(project: Project) -> None:
    make(project, "a b c d", DIAMOND)
    result = project.run("--exclude", "a", "--list")
    assert result.returncode == 2
    assert "jobs.b.needs: 'a' is excluded; add --no-deps to run 'b' without it" in result.stderr
    assert project.run("--exclude", "a", "--no-deps", "--list").returncode == 0


def test_dry_run_shows_levels(project: Project) -> None:
    make(project, "a b c d", DIAMOND)
    headers = [
        line
        for line in project.run("--dry-run").stdout.splitlines()
        if line.startswith("# ") and "(" in line
    ]
    assert headers == [
        "# a  (level 0)",
        "# b  (level 1 · needs a)",
        "# c  (level 1 · needs a)",
        "# d  (level 2 · needs b, c)",
    ]
