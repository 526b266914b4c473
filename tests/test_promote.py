"""`promote:` over real runs: versions under models/, model.json, `latest`, and refusals.

Each test runs the real CLI on a throwaway project whose script writes a model and the
accuracy a file asks for, so the same job passes or fails its gate from run to run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import Project

MODEL_SCRIPT = """
import argparse, json, os, pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
if pathlib.Path("fail").exists():
    raise SystemExit("told to fail")
told = pathlib.Path("accuracy")
accuracy = float(told.read_text()) if told.exists() else 0.95
(out / "model.joblib").write_bytes(b"weights %f" % accuracy)
shape = os.environ.get("MODEL_SHAPE", "")
if shape == "symlink":
    (out / "model.joblib").unlink()
    (out / "model.joblib").symlink_to(pathlib.Path("secret.txt").resolve())
elif shape == "dir":
    (out / "bundle" / "sub").mkdir(parents=True, exist_ok=True)
    (out / "bundle" / "weights.bin").write_bytes(b"w")
    (out / "bundle" / "sub" / "vocab.txt").write_text("a b c")
elif shape == "dir-with-link":
    (out / "bundle").mkdir(exist_ok=True)
    link = out / "bundle" / "key"
    link.unlink(missing_ok=True)
    link.symlink_to(pathlib.Path("secret.txt").resolve())
(out / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
"""

CONFIG = """
jobs:
  clf:
    gates: {accuracy: ">= 0.9"}
    promote: {name: churn}
"""


@pytest.fixture
def proj(project: Project) -> Project:
    project.script("training/train_clf.py", MODEL_SCRIPT)
    project.config("configs/jobs.yaml", CONFIG)
    (project.root / "secret.txt").write_text("the key")
    return project


def versions(project: Project, name: str = "churn") -> list[str]:
    folder = project.root / "models" / name
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def record(project: Project, version: str) -> dict[str, object]:
    text = (project.root / "models/churn" / version / "model.json").read_text()
    document: dict[str, object] = json.loads(text)
    return document


def run_id(project: Project) -> str:
    """The run id of the latest summary, as its file name spells it."""
    latest = (project.root / "summaries/latest.json").read_text()
    for path in (project.root / "summaries").glob("training_summary_*.json"):
        if path.read_text() == latest:
            return path.stem.removeprefix("training_summary_")
    raise AssertionError("no summary file matches latest.json")


def test_each_passing_run_is_a_new_version_with_its_record_and_latest(proj: Project) -> None:
    first = proj.run()
    assert first.returncode == 0, first.stderr
    assert "promoted churn v1 → models/churn/1 (job clf)" in first.stdout
    first_run = run_id(proj)
    (proj.root / "accuracy").write_text("0.97")
    assert proj.run("--force", "clf").returncode == 0
    assert versions(proj) == ["1", "2", "latest"]
    assert (proj.root / "models/churn/latest").readlink() == Path("2")
    copied = proj.root / "models/churn/latest/model.joblib"
    assert copied.read_bytes() == b"weights 0.970000"
    assert record(proj, "1")["run_id"] == first_run
    second = record(proj, "2")
    assert second == {
        "name": "churn",
        "version": 2,
        "job": "clf",
        "run_id": run_id(proj),
        "git_commit": None,
        "promoted_at": second["promoted_at"],
        "artifact": "model.joblib",
        "source": "results/clf_results/model.joblib",
        "metrics": {"accuracy": 0.97},
        "gates": ["accuracy >= 0.9"],
        "sha256": {"model.joblib": hashlib.sha256(copied.read_bytes()).hexdigest()},
    }
    assert proj.jobs()["clf"]["promotion"] == {
        "name": "churn",
        "version": 2,
        "path": "models/churn/2",
    }
    leftovers = [p.name for p in (proj.root / "models/churn").iterdir() if p.name[0] == "."]
    assert leftovers == []


def test_a_gate_failure_promotes_nothing_and_says_so(proj: Project) -> None:
    assert proj.run().returncode == 0
    (proj.root / "accuracy").write_text("0.5")
    result = proj.run("--force", "clf")
    assert result.returncode == 1
    note = "gate failed: accuracy 0.5 fails >= 0.9"
    assert f"warning: promote clf: nothing promoted to churn: {note}" in result.stderr
    assert proj.jobs()["clf"]["promotion"] == {"name": "churn", "note": note}
    assert versions(proj) == ["1", "latest"]
    assert (proj.root / "models/churn/latest").readlink() == Path("1")


def test_a_gate_only_reported_still_promotes_nothing(proj: Project) -> None:
    (proj.root / "accuracy").write_text("0.5")
    result = proj.run("--gates", "report")
    assert proj.jobs()["clf"]["promotion"]["note"].startswith("gate failed: accuracy 0.5")
    assert versions(proj) == [], result.stdout


def test_resume_and_cache_never_promote_the_same_result_twice(proj: Project) -> None:
    proj.script("training/train_other.py", MODEL_SCRIPT)
    proj.config(
        "configs/jobs.yaml",
        CONFIG + "  other:\n    needs: [clf]\n    promote: {name: other}\n",
    )
    (proj.root / "fail").write_text("")
    assert proj.run().returncode == 1  # clf fails, other is skipped: nothing to promote
    assert versions(proj) == []
    assert proj.jobs()["other"]["promotion"] == {
        "name": "other",
        "note": "the job did not succeed (skipped)",
    }
    (proj.root / "fail").unlink()
    assert proj.run("--rerun-failed").returncode == 1  # other stays skipped
    assert versions(proj) == ["1", "latest"]
    assert proj.run("--resume").returncode == 0  # clf reused, already promoted
    assert proj.jobs()["clf"]["promotion"]["note"] == "already promoted"
    assert versions(proj) == ["1", "latest"]
    assert versions(proj, "other") == ["1", "latest"]
    (proj.root / "training/train_other.py").write_text(MODEL_SCRIPT + "\n# edited\n")
    result = proj.run()  # clf unchanged: cached, from the run that promoted it
    assert result.returncode == 0, result.stderr
    assert "already promoted churn v1 → models/churn/1 (job clf)\n" in result.stdout
    jobs = proj.jobs()
    assert jobs["clf"]["status"] == "cached"
    assert jobs["clf"]["promotion"] == {
        "name": "churn",
        "version": 1,
        "path": "models/churn/1",
        "note": "already promoted",
    }
    assert versions(proj) == ["1", "latest"]
    assert versions(proj, "other") == ["1", "2", "latest"]
    assert proj.run("--resume").returncode == 0
    assert versions(proj) == ["1", "latest"]
    assert versions(proj, "other") == ["1", "2", "latest"]


def test_a_symlinked_artifact_is_refused_not_followed(proj: Project) -> None:
    result = proj.run(env={"MODEL_SHAPE": "symlink"})
    assert result.returncode == 0
    note = proj.jobs()["clf"]["promotion"]["note"]
    assert note == f"model.joblib is a symlink (to {proj.root / 'secret.txt'}): not followed"
    assert versions(proj) == []


def test_a_directory_artifact_is_copied_whole_with_digests(proj: Project) -> None:
    proj.config(
        "configs/jobs.yaml", CONFIG.replace("{name: churn}", "{name: churn, artifact: bundle}")
    )
    assert proj.run(env={"MODEL_SHAPE": "dir"}).returncode == 0
    assert (proj.root / "models/churn/1/bundle/sub/vocab.txt").read_text() == "a b c"
    assert sorted(record(proj, "1")["sha256"]) == [  # type: ignore[arg-type]
        "bundle/sub/vocab.txt",
        "bundle/weights.bin",
    ]
    proj.run("--force", "clf", env={"MODEL_SHAPE": "dir-with-link"})
    assert proj.jobs()["clf"]["promotion"]["note"] == "bundle/key is a symlink or special file"
    assert versions(proj) == ["1", "latest"]


def test_a_missing_artifact_or_a_symlinked_models_dir_writes_nothing(
    proj: Project, tmp_path: Path
) -> None:
    proj.config(
        "configs/jobs.yaml", CONFIG.replace("{name: churn}", "{name: churn, artifact: m.pt}")
    )
    proj.run()
    assert proj.jobs()["clf"]["promotion"]["note"] == "m.pt not found in clf_results"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert not (proj.root / "models").exists()
    (proj.root / "models").symlink_to(elsewhere)
    proj.config("configs/jobs.yaml", CONFIG)
    result = proj.run("--force", "clf")
    assert result.returncode == 0
    assert proj.jobs()["clf"]["promotion"]["note"] == (
        f"models is a symlink (to {elsewhere}): nothing is written there"
    )
    assert list(elsewhere.iterdir()) == []
