"""Started anywhere inside a project, the CLI works from its root, as git and pytest do.

The project's own paths (discovery roots, `configs/`, the default output root) are read
from the root; paths the user typed are read from where they typed them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project

from orchestrator.project import Project as Where
from orchestrator.project import locate


# ------------------------------------------------------------------------ as values
@pytest.mark.parametrize(
    ("markers", "start", "root", "marker"),
    [
        (["p/configs/"], "p/training/deep", "p", "configs/"),
        (["p/pyproject.toml"], "p/src", "p", "pyproject.toml"),
        (["p/.git"], "p/a/b/c", "p", ".git"),
        (["p/configs/", "p/sub/pyproject.toml"], "p/sub/x", "p/sub", "pyproject.toml"),
        (["p/configs/"], "p", "p", "configs/"),
        (["p/configs"], "p/sub", "p/sub", None),  # a file named configs marks nothing
        (["p/.git", "p/ml/training/"], "p/ml", "p/ml", "training/"),  # it has jobs: stay
        (["p/configs/", "p/files/training/"], "p/files/training", "p", "configs/"),
        ([], "p/sub", "p/sub", None),
    ],
)
def test_the_nearest_marked_directory_is_the_root(
    tmp_path: Path, markers: list[str], start: str, root: str, marker: str | None
) -> None:
    for name in markers:
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    (tmp_path / start).mkdir(parents=True, exist_ok=True)
    assert locate(tmp_path / start) == Where(tmp_path / root, tmp_path / start, marker)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("out", "sub/out"),
        (".", "sub"),
        ("..", "."),
        ("../configs/x.yaml", "configs/x.yaml"),
        ("../../elsewhere", "/proj/../elsewhere"),
        ("/abs/path", "/abs/path"),
    ],
)
def test_a_typed_path_is_read_from_where_it_was_typed(typed: str, expected: str) -> None:
    where = Where(Path("/home/me/proj"), Path("/home/me/proj/sub"), "configs/")
    assert where.typed(typed) == expected.replace("/proj/..", "/home/me")


def test_typed_paths_are_untouched_when_started_at_the_root() -> None:
    root = Path("/home/me/proj")
    assert Where(root, root, ".git").typed("./out/../out") == "./out/../out"


# ----------------------------------------------------------------- the real command
@pytest.fixture
def nested(project: Project) -> Project:
    """A project started from its `training/` directory."""
    project.script("training/train_model.py")
    project.config("configs/jobs.yaml", "jobs:\n  model: {tags: [fast]}\n")
    return Project(project.root / "training")


def test_a_subdirectory_finds_the_root_and_says_so(nested: Project) -> None:
    root = nested.root.parent
    result = nested.run("--list", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [job["id"] for job in json.loads(result.stdout)["jobs"]] == ["model"]
    assert result.stderr == f"project root: {root} (nearest with configs/)\n"


def test_outputs_go_to_the_root_unless_typed_from_here(nested: Project) -> None:
    root = nested.root.parent
    assert nested.run().returncode == 0
    assert json.loads((root / "results/model_results/metrics.json").read_text())
    assert (root / "summaries/latest.json").is_file()
    assert sorted(p.name for p in nested.root.iterdir()) == ["train_model.py"]  # no output here

    assert nested.run("--output-root", "out", "--force").returncode == 0
    assert (nested.root / "out/results/model_results/metrics.json").is_file()
    assert (nested.root / "out/summaries/latest.json").is_file()


def test_typed_config_and_resume_paths_are_read_from_here(nested: Project) -> None:
    nested.config("extra.yaml", "jobs:\n  model: {tags: [typed]}\n")
    listed = nested.run("--list", "--format", "json", "--config", "extra.yaml")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["jobs"][0]["tags"] == ["typed"]

    assert nested.run().returncode == 0
    dry = nested.run("--dry-run", "--format", "json", "--resume", "../summaries/latest.json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["jobs"][0]["decision"]["action"] == "reused"


def test_plan_shards_from_a_subdirectory(nested: Project) -> None:
    result = nested.run("plan-shards", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "include": [{"shard": "1/1", "label": "1-of-1", "jobs": ["model"]}]
    }
