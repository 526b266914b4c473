"""Parameter matrices: expansion, flags, selection, and the per-matrix summary."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import Project

from orchestrator.config import load_configs
from orchestrator.jobs import merge

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


# ------------------------------------------------------------ GitHub's documented examples
# From "Running variations of jobs in a workflow" (docs.github.com, Actions), each matrix
# with the jobs GitHub says it makes. Expanded in-process: loading and merging are values.
def combinations(tmp_path: Path, matrix: str) -> list[dict[str, str]]:
    config = tmp_path / "configs/jobs.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    body = textwrap.indent(textwrap.dedent(matrix).strip(), " " * 6)
    config.write_text(f"jobs:\n  m:\n    command: [echo]\n    matrix:\n{body}\n")
    specs = merge((), load_configs([config], tmp_path), tmp_path)
    return [dict(pair.split("=", 1) for pair in spec.id[2:-1].split(",")) for spec in specs]


def test_github_example_expanding_configurations(tmp_path: Path) -> None:
    """An include entry that matches an original combination extends only that one."""
    assert combinations(
        tmp_path,
        """
        os: [windows-latest, ubuntu-latest]
        node: [14, 16]
        include:
          - os: windows-latest
            node: 16
            npm: 6
        """,
    ) == [
        {"os": "windows-latest", "node": "14"},
        {"os": "windows-latest", "node": "16", "npm": "6"},
        {"os": "ubuntu-latest", "node": "14"},
        {"os": "ubuntu-latest", "node": "16"},
    ]


def test_github_example_include_with_keys_that_are_no_axis(tmp_path: Path) -> None:
    """`color: green` (no axis) goes to every combination; later includes override what
    an include added but never an axis value; `fruit: banana` matches nothing, so it is a
    combination of its own, and the next include does not extend that one."""
    assert combinations(
        tmp_path,
        """
        fruit: [apple, pear]
        animal: [cat, dog]
        include:
          - color: green
          - color: pink
            animal: cat
          - fruit: apple
            shape: circle
          - fruit: banana
          - fruit: banana
            animal: cat
        """,
    ) == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_github_example_adding_a_combination_that_matches_none(tmp_path: Path) -> None:
    found = combinations(
        tmp_path,
        """
        os: [macos-latest, windows-latest, ubuntu-latest]
        version: [12, 14, 16]
        include:
          - os: windows-latest
            version: 17
        """,
    )
    assert len(found) == 10
    assert found[-1] == {"os": "windows-latest", "version": "17"}


def test_github_example_include_only(tmp_path: Path) -> None:
    """No axes: the includes are the combinations (no empty `m[]` job)."""
    assert combinations(
        tmp_path,
        """
        include:
          - site: production
            datacenter: site-a
          - site: staging
            datacenter: site-b
        """,
    ) == [
        {"site": "production", "datacenter": "site-a"},
        {"site": "staging", "datacenter": "site-b"},
    ]


def test_github_example_excluding_partial_matches(tmp_path: Path) -> None:
    found = combinations(
        tmp_path,
        """
        os: [macos-latest, windows-latest]
        version: [12, 14, 16]
        environment: [staging, production]
        exclude:
          - os: macos-latest
            version: 12
            environment: production
          - os: windows-latest
            version: 16
        """,
    )
    assert len(found) == 9
    assert {"os": "macos-latest", "version": "12", "environment": "production"} not in found
    assert not [c for c in found if c["os"] == "windows-latest" and c["version"] == "16"]


def test_exclude_comes_before_include(tmp_path: Path) -> None:
    """GitHub: "All include combinations are processed after exclude", so an include can
    add back what an exclude removed."""
    assert combinations(
        tmp_path,
        """
        seed: [0, 1]
        exclude: [{seed: 1}]
        include: [{seed: 1}]
        """,
    ) == [{"seed": "0"}, {"seed": "1"}]


def test_a_value_listed_twice_is_refused(project: Project) -> None:
    """GitHub would run both; here they would be two jobs with one id, one log, one dir."""
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  m:\n    command: [echo]\n    matrix:\n      seed: [0, 1, 0]\n",
    )
    result = project.run("--list")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:5:20: jobs.m.matrix.seed.2: '0' is already listed (item 0); "
        "drop one"
    )
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  m:\n    command: [echo]\n    matrix:\n"
        "      include: [{site: a}, {site: b}, {site: a}]\n",
    )
    result = project.run("--list")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:5:39: jobs.m.matrix.include.2: the combination [site=a] is "
        "listed twice; drop one"
    )
