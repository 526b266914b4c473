"""`.train_orch/cache.json` is read back as untrusted input: an entry that is not as the
orchestrator wrote it (a hand edit, another version, a damaged disk) is left out with a
warning and its job runs; deleting the state was always safe, and bad state is no state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Project

CACHE = ".train_orch/cache.json"
Entry = dict[str, Any]


def first_manifest_file(entry: Entry) -> str:
    return sorted(entry["manifest"])[0]


def cut_manifest_entry(entry: Entry) -> None:
    entry["manifest"][first_manifest_file(entry)] = entry["manifest"][first_manifest_file(entry)][
        :2
    ]


def escape_output_dir(entry: Entry) -> None:
    entry["manifest"]["../../../etc/hostname"] = [0, 0, "x"]


TAMPERINGS: dict[str, tuple[Callable[[Entry], None], str]] = {
    "parts a string": (lambda e: e.update(parts="abc"), "parts: not an object of strings"),
    "2-item manifest entry": (
        cut_manifest_entry,
        "manifest: not an object of [size, mtime_ns, digest] entries",
    ),
    "manifest path outside": (
        escape_output_dir,
        "manifest: not an object of [size, mtime_ns, digest] entries",
    ),
    "string metric": (
        lambda e: e.update(metrics={"accuracy": "high"}),
        "metrics: not an object of numbers (or NaN, Infinity, -Infinity)",
    ),
    "no run_id": (lambda e: e.pop("run_id"), "no run_id"),
    "run_id a number": (lambda e: e.update(run_id=7), "run_id: not a string"),
}


def cached_project(project: Project) -> dict[str, Entry]:
    project.script("training/train_a.py")
    project.script("training/train_b.py")
    assert project.run().returncode == 0
    again = project.run()
    assert "cached" in {job["status"] for job in project.summary()["jobs"]}, again.stdout
    cache: dict[str, Entry] = json.loads((project.root / CACHE).read_text())
    return cache


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_damaged_cache_entry_is_ignored_with_a_warning(project: Project, tampering: str) -> None:
    cache = cached_project(project)
    change, why = TAMPERINGS[tampering]
    change(cache["a"])
    (project.root / CACHE).write_text(json.dumps(cache))

    result = project.run()

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"warning: {CACHE}: entry 'a' ignored ({why}); the job runs" in result.stderr
    statuses = {job["id"]: job["status"] for job in project.summary()["jobs"]}
    assert statuses == {"a": "succeeded", "b": "cached"}
    # the run wrote a sound entry back: the next run trusts it again, without a word
    third = project.run()
    assert "warning" not in third.stderr
    assert {job["status"] for job in project.summary()["jobs"]} == {"cached"}


@pytest.mark.parametrize(
    ("content", "why"),
    [("[1, 2]", "not a JSON object"), ('{"a": ', "unreadable (JSONDecodeError)")],
)
def test_a_damaged_cache_file_is_ignored_with_a_warning(
    project: Project, content: str, why: str
) -> None:
    cached_project(project)
    (project.root / CACHE).write_text(content)
    result = project.run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"warning: {CACHE}: ignored, {why}; every job runs" in result.stderr


def test_a_metric_that_became_nan_is_cached_as_its_string(project: Project) -> None:
    project.script(
        "training/train_a.py",
        """
        import argparse, pathlib
        parser = argparse.ArgumentParser()
        parser.add_argument("--output-dir", required=True)
        out = pathlib.Path(parser.parse_args().output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text('{"loss": NaN}')
        """,
    )
    assert project.run().returncode == 0

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in {CACHE}")

    cache = json.loads((project.root / CACHE).read_text(), parse_constant=refuse)
    assert cache["a"]["metrics"] == {"loss": "NaN"}
    rerun = project.run()
    assert (rerun.returncode, rerun.stderr) == (0, "")
    assert project.summary()["jobs"][0]["metrics"] == {"loss": "NaN"}
    assert project.summary()["jobs"][0]["status"] == "cached"
