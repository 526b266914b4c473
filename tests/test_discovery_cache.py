"""The scripts' facts kept between runs: an unchanged script is not parsed again, and what is
kept never changes what discovery finds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GOOD_SCRIPT, Project, write

from orchestrator import discovery
from orchestrator.discovery import discover
from orchestrator.discovery_cache import FILE_NAME, keep_facts, use_kept_facts

BROKEN = "import argparse\np = argparse.ArgumentParser(\n"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test as a new process: nothing parsed or kept yet."""
    monkeypatch.setattr(discovery, "PARSED", {})
    monkeypatch.setattr(discovery, "KEPT", {})


def listed(project: Path) -> list[tuple[str, tuple[str, ...], str | None]]:
    """What a run discovers, as a new process that keeps the facts for the next."""
    use_kept_facts(project / ".train_orch")
    scripts, _ = discover(["training"], project)
    keep_facts(project / ".train_orch")
    discovery.PARSED.clear()
    discovery.KEPT.clear()
    return [(s.job_id, s.flags, s.error) for s in scripts]


def never_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(source: bytes, display: str, directory: Path) -> discovery.Facts:
        raise AssertionError(f"{display} parsed again")

    monkeypatch.setattr(discovery, "_parse", fail)


def test_a_later_run_takes_the_kept_facts_and_parses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    write(tmp_path / "training/train_b.py", BROKEN)
    (tmp_path / ".train_orch").mkdir()
    first = listed(tmp_path)
    assert first == [
        ("a", ("--output-dir", "--epochs", "--folds", "--seed"), None),
        ("b", (), "syntax error, line 2: '(' was never closed"),
    ]
    never_parse(monkeypatch)
    assert listed(tmp_path) == first


def test_without_a_state_dir_nothing_is_written(tmp_path: Path) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    listed(tmp_path)
    assert not (tmp_path / ".train_orch").exists()


def test_a_symlinked_state_dir_is_neither_read_nor_written(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = tmp_path / "project"
    write(project / "training/train_a.py", GOOD_SCRIPT)
    (project / ".train_orch").symlink_to(elsewhere)
    listed(project)
    assert list(elsewhere.iterdir()) == []


def test_a_changed_script_is_parsed_again_and_only_current_scripts_are_kept(
    tmp_path: Path,
) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    (tmp_path / ".train_orch").mkdir()
    listed(tmp_path)
    write(tmp_path / "training/train_a.py", 'import click\n@click.option("--lr")\ndef f(): ...\n')
    assert listed(tmp_path) == [("a", ("--lr",), None)]
    kept = json.loads((tmp_path / ".train_orch" / FILE_NAME).read_text())
    assert list(kept["scripts"].values()) == [[["--lr"], None, [], [], [], []]]


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        "[]",
        '{"salt": "another python or reader", "scripts": {}}',
        '{"salt": SALT, "scripts": {"KEY": [["--forged"], 1]}}',
        '{"salt": SALT, "scripts": {"KEY": [["--forged", 2], null]}}',
        '{"salt": SALT, "scripts": {"KEY": "--forged"}}',
        '{"salt": SALT, "scripts": ["KEY"]}',
    ],
)
def test_a_file_not_as_written_is_ignored(tmp_path: Path, damage: str) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    (tmp_path / ".train_orch").mkdir()
    first = listed(tmp_path)
    path = tmp_path / ".train_orch" / FILE_NAME
    kept = json.loads(path.read_text())
    (key,) = kept["scripts"]
    path.write_text(damage.replace("SALT", json.dumps(kept["salt"])).replace("KEY", key))
    assert listed(tmp_path) == first


def test_a_run_keeps_the_facts_and_list_and_dry_run_only_read_them(project: Project) -> None:
    """End to end: `--list` and `--dry-run` write nothing; a run keeps the facts once
    `.train_orch/` exists, and `--list` reads them back to the same listing."""
    project.script("training/train_a.py", GOOD_SCRIPT)
    project.script("training/train_b.py", BROKEN)
    (project.root / ".train_orch").mkdir()
    fresh = project.run("--list")
    assert project.run("--dry-run").returncode == 0
    assert list((project.root / ".train_orch").iterdir()) == []
    assert project.run("--exclude", "*", "--allow-empty").returncode == 0
    assert (project.root / ".train_orch" / FILE_NAME).is_file()
    assert project.run("--list").stdout == fresh.stdout


def test_a_reader_whose_source_cannot_be_read_keeps_and_uses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed as a zip, discovery.py has no file to digest: kept facts could then come
    from another reader, so none are used, and none are written."""
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    (tmp_path / ".train_orch").mkdir()
    listed(tmp_path)
    monkeypatch.setattr(discovery, "__file__", str(tmp_path / "gone.zip/discovery.py"))
    (tmp_path / ".train_orch" / FILE_NAME).unlink()
    assert listed(tmp_path) == [("a", ("--output-dir", "--epochs", "--folds", "--seed"), None)]
    assert not (tmp_path / ".train_orch" / FILE_NAME).exists()
