"""Which study a sweep uses: valid only for the code that made it, its own trial dirs,
new points after a resume, the grid's end, and a damaged or bogus study store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHIM, Project
from test_sweeps import QUADRATIC, SLEEPY, finished_trials, study, sweep_config

# QUADRATIC plus a penalty read from a data file listed in `inputs:`, and a record of
# whether the trial found files in its output dir that it did not write.
SHIFTED = """
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--x", type=float, default=0.0)
a = p.parse_args()
out = pathlib.Path(a.output_dir)
stale = float(any(out.iterdir()))
penalty = float(pathlib.Path("data/penalty.txt").read_text())
(out / "progress.jsonl").write_text(json.dumps({"step": 1, "value": a.x}) + "\\n")
loss = (a.x - 0.3) ** 2 + penalty
(out / "metrics.json").write_text(json.dumps({"loss": loss, "stale": stale}))
"""

SHIFTED_SWEEP = """metric: loss
direction: minimize
n_trials: 3
pruner: none
params:
  x: {float: [-1, 1]}"""


def shifted_project(project: Project) -> None:
    project.script("training/train_shift.py", SHIFTED)
    project.script("data/penalty.txt", "0")
    config = sweep_config("shift", SHIFTED_SWEEP) + "    inputs: [data/*.txt]\n"
    project.config("configs/jobs.yaml", config)


def sweep_of(project: Project) -> dict[str, object]:
    sweep = project.jobs()["shift"]["sweep"]
    assert isinstance(sweep, dict)
    return sweep


def trial_records(project: Project, sweep: str) -> list[dict[str, object]]:
    return [j for j in project.summary()["jobs"] if f"sweep:{sweep}" in j["tags"]]


def test_an_edited_script_starts_a_new_study_with_its_own_best(project: Project) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    first = sweep_of(project)
    assert first["best_value"] < 1.7  # type: ignore[operator]
    script = project.root / "training/train_shift.py"
    script.write_text(script.read_text().replace("+ penalty", "+ penalty + 100"))
    result = project.run()
    assert result.returncode == 0, result.stdout
    second = sweep_of(project)
    assert second["study"] != first["study"]
    assert second["trials"] == {"complete": 3}
    assert len(trial_records(project, "shift")) == 3
    assert second["best_value"] >= 100  # type: ignore[operator]
    earlier = first["study"]
    assert second["note"] == f"new study {second['study']}: script changed (earlier: {earlier})"


def test_changed_inputs_start_a_new_study(project: Project) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    first = sweep_of(project)["study"]
    (project.root / "data/penalty.txt").write_text("50")
    assert project.run().returncode == 0
    second = sweep_of(project)
    assert second["note"] == f"new study {second['study']}: inputs changed (earlier: {first})"
    assert second["best_value"] >= 50  # type: ignore[operator]


def test_force_starts_a_new_study_of_the_same_definition(project: Project) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    first = sweep_of(project)["study"]
    assert project.run().returncode == 0  # unchanged: the complete study is resumed
    assert sweep_of(project)["study"] == first
    assert trial_records(project, "shift") == []
    result = project.run("--force", "shift")
    assert result.returncode == 0
    forced = sweep_of(project)
    assert forced["study"] == f"{first}.2"
    assert forced["note"] == f"new study {first}.2: --force (earlier: {first})"
    assert forced["trials"] == {"complete": 3}
    assert "new study" in result.stdout
    assert "--force" in result.stdout


def test_a_new_study_never_reads_or_overwrites_an_older_studys_trial_dirs(
    project: Project,
) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    first = sweep_of(project)
    old_best = Path(project.root, str(first["best_output_dir"]), "metrics.json")
    old_metrics = old_best.read_text()
    project.config(
        "configs/jobs.yaml",
        sweep_config("shift", SHIFTED_SWEEP.replace("[-1, 1]", "[0, 1]"))
        + "    inputs: [data/*.txt]\n",
    )
    result = project.run()
    assert result.returncode == 0, result.stdout
    second = sweep_of(project)
    trials = trial_records(project, "shift")
    assert [t["metrics"]["stale"] for t in trials] == [0.0, 0.0, 0.0]
    old_dirs = {Path(str(first["best_output_dir"])).parent}
    assert {Path(str(t["output_dir"])).parent for t in trials}.isdisjoint(old_dirs)
    assert old_best.read_text() == old_metrics  # the old study's best is still inspectable
    assert "step already reported" not in result.stdout + result.stderr
    # The console says, as the sweep starts, that a new study starts and why.
    line = next(ln for ln in result.stdout.splitlines() if "new study" in ln)
    assert str(second["study"]) in line
    assert "sweep definition changed" in line


def test_a_study_resumed_after_sigkill_proposes_new_points(project: Project) -> None:
    project.script("training/train_sleepy.py", SLEEPY)
    body = "metric: score\nn_trials: 6\npruner: none\nparams:\n  x: {float: [0, 1]}"
    project.config("configs/jobs.yaml", sweep_config("sleepy", body))
    proc = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(finished_trials(project)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    result = project.run()
    assert result.returncode == 0, result.stdout
    complete = [t for t in study(project, "sleepy-").get_trials() if t.state.name == "COMPLETE"]
    assert len(complete) == 6
    assert len({t.params["x"] for t in complete}) == 6


def test_a_grid_with_more_trials_than_points_stops_at_its_end(project: Project) -> None:
    project.script("training/train_grid.py", QUADRATIC)
    body = """metric: loss
direction: minimize
sampler: grid
n_trials: 10
parallel: 2
params:
  y: {int: [2, 4]}
  x: {choices: ["0.3", "0.5"]}"""
    project.config("configs/jobs.yaml", sweep_config("grid", body))
    result = project.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    sweep = project.jobs()["grid"]["sweep"]
    assert sweep["trials"] == {"complete": 6}
    assert sweep["best_params"] == {"y": 3, "x": "0.3"}
    assert sweep["note"] == "the grid has 6 points: all tried, so 6 of n_trials 10"
    points = {(t["id"], json.dumps(t["metrics"])) for t in trial_records(project, "grid")}
    assert len(points) == 6
    params = {(t.params["y"], t.params["x"]) for t in study(project, "grid-").get_trials()}
    assert params == {(y, x) for y in (2, 3, 4) for x in ("0.3", "0.5")}


def damage_by_garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 64)


def damage_by_truncation(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("damage", [damage_by_garbage, damage_by_truncation])
def test_a_damaged_study_store_is_set_aside_and_a_new_study_starts(
    project: Project, damage: object
) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    store = project.root / ".train_orch/optuna.db"
    for leftover in (".train_orch/optuna.db-wal", ".train_orch/optuna.db-shm"):
        (project.root / leftover).unlink(missing_ok=True)
    assert callable(damage)
    damage(store)
    damaged = store.read_bytes()
    result = project.run()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    aside = list(store.parent.glob("optuna.db.damaged-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))] == [
        aside[0].name.removesuffix("-wal").removesuffix("-shm")
    ]
    kept = next(p for p in aside if not p.name.endswith(("-wal", "-shm")))
    assert kept.read_bytes() == damaged
    assert f"set aside as {kept.relative_to(project.root)}" in result.stderr
    sweep = sweep_of(project)
    assert sweep["trials"] == {"complete": 3}
    aside_name = kept.relative_to(project.root)
    why = f"the study store was damaged: set aside as {aside_name}"
    assert sweep["note"] == f"new study {sweep['study']}: {why}"


def test_a_bogus_storage_url_is_one_line_and_exit_2(project: Project) -> None:
    shifted_project(project)
    result = project.run("--optuna-storage", "bogus://")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --optuna-storage bogus://: ")
    assert result.stderr.count("\n") == 1
    assert not (project.root / "summaries").exists()
