"""Parameter matrices: expansion, flags, selection, and the per-matrix summary."""

from __future__ import annotations

import json

from conftest import Project

FOREST = """
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--seed", type=int)
p.add_argument("--max_depth", type=int)
p.add_argument("--criterion", default="gini")
a = p.parse_args()
score = 0.8 + a.max_depth / 100 + a.seed / 1000
pathlib.Path(a.output_dir, "metrics.json").write_text(json.dumps({"accuracy": score}))
"""

MATRIX = """
defaults: {seed: 42}
jobs:
  forest:
    args: {criterion: entropy}
    matrix:
      seed: [0, 1, 2]
      max_depth: [4, 8]
      exclude: [{seed: 2, max_depth: 8}]
      include: [{seed: 7, max_depth: 16}, {seed: 0, criterion: gini}]
  after:
    command: [sh, -c, "echo $TRAIN_ORCH_NEEDS_FOREST_SEED_7_MAX_DEPTH_16__DIR"]
    needs: [forest]
"""


def test_matrix_expands_into_one_job_per_combination(project: Project) -> None:
    project.script("training/train_forest.py", FOREST)
    project.config("configs/jobs.yaml", MATRIX)
    plan = json.loads(project.run("--dry-run", "--format", "json").stdout)
    jobs = {job["id"]: job for job in plan["jobs"]}
    assert sorted(jobs) == sorted(
        [
            "forest[seed=0,max_depth=4,criterion=gini]",
            "forest[seed=0,max_depth=8,criterion=gini]",
            "forest[seed=1,max_depth=4]",
            "forest[seed=1,max_depth=8]",
            "forest[seed=2,max_depth=4]",
            "forest[seed=7,max_depth=16]",
            "after",
        ]
    )
    one = jobs["forest[seed=1,max_depth=8]"]
    assert one["argv"][2:] == [
        "--output-dir",
        "results/forest_seed=1,max_depth=8__results",
        "--seed",
        "1",
        "--criterion",
        "entropy",
        "--max_depth",
        "8",
    ]
    assert one["tags"] == ["matrix:forest"]
    assert jobs["forest[seed=0,max_depth=4,criterion=gini]"]["argv"][-4:] == [
        "--max_depth",
        "4",
        "--criterion",
        "gini",
    ]
    assert len(jobs["after"]["needs"]) == 6  # a need on a matrix is a need on every member


def test_matrix_runs_selects_and_summarises(project: Project) -> None:
    project.script("training/train_forest.py", FOREST)
    project.config("configs/jobs.yaml", MATRIX)
    listing = json.loads(project.run("--only", "forest[*]", "--list", "--format", "json").stdout)
    assert len(listing["jobs"]) == 6
    one = project.run("--only", "forest[seed=1,max_depth=8]", "--list", "--format", "json")
    assert [job["id"] for job in json.loads(one.stdout)["jobs"]] == ["forest[seed=1,max_depth=8]"]
    assert project.run("--parallel").returncode == 0
    text = (project.root / "summaries/summary.md").read_text()
    assert "**Matrix `forest`** (6 of 6 with metrics)" in text
    assert "| accuracy | 0.8752 | 0.045 | 0.967 | `forest[seed=7,max_depth=16]` |" in text
    assert (project.root / "results/forest_seed=7,max_depth=16__results/metrics.json").is_file()


def test_bad_matrix_is_a_config_error(project: Project) -> None:
    project.script("training/train_forest.py", FOREST)
    project.config("configs/jobs.yaml", "jobs:\n  forest:\n    matrix:\n      seed: []\n")
    result = project.run("--list")
    assert result.returncode == 2
    assert (
        "configs/jobs.yaml:4:7: jobs.forest.matrix.seed: expected a non-empty list of values"
        in (result.stderr)
    )
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  forest:\n    matrix:\n      seed: [0]\n      exclude: [{sed: 0}]\n",
    )
    result = project.run("--list")
    assert "jobs.forest.matrix.exclude.0: 'sed' is not a matrix axis; did you mean 'seed'?" in (
        result.stderr
    )
    project.config("configs/jobs.yaml", "jobs:\n  forest:\n    matrix:\n      seed: [-1]\n")
    assert "jobs.forest.matrix.seed.0: must be at least 0, got -1" in project.run("--list").stderr
