"""Tests for the bundled ``training/train_*.py`` scripts and their shared helpers.

Each script runs for real in a subprocess, as the orchestrator runs it, with small
settings; the metric bounds were measured at these settings over several seeds and
widened by a margin. The ensemble runs over a random forest and a breast-cancer MLP
trained with the same seed, so all three share one held-out split.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = REPO_ROOT / "training"
SEED = 7
SMALL = ("--epochs", "5", "--folds", "2", "--seed", str(SEED))
STANDARD_FLAGS = {"--output-dir", "--epochs", "--folds", "--seed"}
CLASSIFICATION = ("accuracy", "f1", "roc_auc", "pr_auc")
REGRESSION = ("mae", "rmse", "mape", "r2")
HOLDOUT = frozenset({"holdout_accuracy", "holdout_roc_auc", "n_holdout"})
SHAPE = frozenset({"n_samples", "n_features"})
ARTEFACTS = frozenset({"metrics.json", "model.joblib", "params.json", "predictions.csv"})


def with_std(*names: str) -> frozenset[str]:
    """Fold-mean metric names together with their ``<name>_std`` companions."""
    return frozenset(key for name in names for key in (name, f"{name}_std"))


@dataclass(frozen=True)
class Expected:
    """What one script must produce with the ``SMALL`` settings."""

    keys: frozenset[str]  # exactly the keys of metrics.json
    bounds: dict[str, tuple[float, float]]
    columns: tuple[str, ...]
    predicted_rows: Callable[[dict[str, Any]], int]  # metrics -> rows in predictions.csv
    progress: dict[str, int]  # stdout line prefix -> number of such lines
    files: frozenset[str] = ARTEFACTS


EXPECTED = {
    "train_random_forest.py": Expected(
        keys=with_std(*CLASSIFICATION) | HOLDOUT | SHAPE,
        bounds={
            "accuracy": (0.90, 1.0),
            "f1": (0.90, 1.0),
            "roc_auc": (0.95, 1.0),
            "holdout_accuracy": (0.88, 1.0),
            "holdout_roc_auc": (0.93, 1.0),
        },
        columns=("id", "y_true", "y_pred", "proba", "holdout"),
        predicted_rows=lambda m: m["n_samples"],  # out-of-fold or held out: every row once
        progress={"fold ": 2},
        files=ARTEFACTS | {"split.json"},
    ),
    "train_xgboost.py": Expected(
        keys=with_std(*REGRESSION, "best_iteration") | SHAPE,
        bounds={"r2": (0.10, 1.0), "mape": (0.0, 0.7), "best_iteration": (0.0, 4.0)},
        columns=("id", "y_true", "y_pred"),
        predicted_rows=lambda m: m["n_samples"],
        progress={"fold ": 2},
    ),
    "train_lightgbm_forecast.py": Expected(
        keys=with_std(*REGRESSION) | SHAPE,
        bounds={"r2": (0.45, 1.0), "mape": (0.0, 0.1)},
        columns=("id", "y_true", "y_pred"),
        # TimeSeriesSplit: 2 test blocks of n // 3
        predicted_rows=lambda m: 2 * (m["n_samples"] // 3),
        progress={"fold ": 2},
    ),
    "train_isolation_forest.py": Expected(
        keys=with_std("precision", "recall", "f1", "pr_auc", "roc_auc") | SHAPE | {"n_anomalies"},
        # a detector scoring at random: roc_auc ~0.5, pr_auc ~0.03 (the anomaly share)
        bounds={"roc_auc": (0.93, 1.0), "pr_auc": (0.6, 1.0), "f1": (0.5, 1.0)},
        columns=("id", "y_true", "y_pred", "score"),
        predicted_rows=lambda m: m["n_samples"],
        progress={"fold ": 2},
    ),
    "train_mlp.py": Expected(  # digits, 10 classes: chance is ~0.1
        keys=with_std("accuracy", "f1_macro") | HOLDOUT | SHAPE | {"loss", "n_classes"},
        bounds={
            "accuracy": (0.90, 1.0),
            "f1_macro": (0.90, 1.0),
            "holdout_accuracy": (0.90, 1.0),
            "holdout_roc_auc": (0.98, 1.0),
            "n_classes": (10, 10),
        },
        columns=("id", "y_true", "y_pred", "holdout"),
        predicted_rows=lambda m: m["n_samples"],
        progress={"epoch ": 5, "fold ": 2},
        files=ARTEFACTS | {"split.json", "progress.jsonl"},
    ),
    "train_ensemble.py": Expected(
        keys=frozenset(
            {*CLASSIFICATION, "member_1_roc_auc", "member_2_roc_auc", "n_members", "n_holdout"}
        )
        | {"n_features"},
        bounds={"accuracy": (0.90, 1.0), "roc_auc": (0.97, 1.0), "n_members": (2, 2)},
        columns=("id", "y_true", "y_pred", "proba"),
        predicted_rows=lambda m: m["n_holdout"],  # scored on the held-out rows only
        progress={"member ": 2, "fold ": 0},
        files=ARTEFACTS | {"split.json"},
    ),
}
SCRIPTS = sorted(EXPECTED)


@dataclass(frozen=True)
class Run:
    """One finished script run."""

    script: str
    output_dir: Path
    process: subprocess.CompletedProcess[str]
    args: tuple[str, ...] = ()

    def read_json(self, name: str) -> dict[str, Any]:
        """Parse one of the run's JSON artefacts."""
        data = json.loads((self.output_dir / name).read_text())
        assert isinstance(data, dict)
        return data


def run_script(
    script: str, output_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a training script from the repo root, as the orchestrator does.

    ``TRAIN_ORCH_NEEDS_*`` variables of an enclosing run are dropped: the ensemble
    would take them for its members.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_NEEDS_")}
    return subprocess.run(
        [sys.executable, f"training/{script}", "--output-dir", str(output_dir), *args],
        cwd=REPO_ROOT,
        env={**base, "OMP_NUM_THREADS": "2", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start(script: str, output_dir: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run a script with the small settings plus ``args``."""
    return Run(script, output_dir, run_script(script, output_dir, *SMALL, *args, env=env), args)


def assert_one_line_error(process: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit status 2 and a single stderr line that mentions every one of ``words``."""
    assert process.returncode == 2, process.stderr
    assert len(process.stderr.splitlines()) == 1, process.stderr
    for word in words:
        assert word in process.stderr


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The ensemble's members: forest and breast-cancer MLP, same seed, so same split."""
    root = tmp_path_factory.mktemp("members")
    runs = {
        "random_forest": start("train_random_forest.py", root / "random_forest"),
        "mlp": start("train_mlp.py", root / "mlp", "--dataset", "breast_cancer"),
    }
    for member in runs.values():
        assert member.process.returncode == 0, member.process.stderr
    return runs


def member_inputs(members: dict[str, Run]) -> tuple[str, ...]:
    """``--inputs`` in the order the env-var fallback sorts them: MLP before RANDOM_FOREST."""
    return ("--inputs", str(members["mlp"].output_dir), str(members["random_forest"].output_dir))


@pytest.fixture(scope="module")
def ensemble(members: dict[str, Run], tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The ensemble over ``members``; also the ensemble's entry in ``run``."""
    output_dir = tmp_path_factory.mktemp("train_ensemble") / "out"
    return start("train_ensemble.py", output_dir, *member_inputs(members))


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The MLP on digits; also the MLP's entry in ``run``."""
    return start("train_mlp.py", tmp_path_factory.mktemp("train_mlp") / "out")


SHARED = {"train_ensemble.py": "ensemble", "train_mlp.py": "mlp"}


@pytest.fixture(scope="module", params=SCRIPTS)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Each script run once with the small settings, shared by the tests below."""
    script: str = request.param
    if script in SHARED:  # runs that other tests inspect more closely
        result: Run = request.getfixturevalue(SHARED[script])
        return result
    output_dir = tmp_path_factory.mktemp(Path(script).stem) / "out"  # must be created
    return start(script, output_dir)


def test_exits_zero_and_prints_progress(run: Run) -> None:
    assert run.process.returncode == 0, run.process.stderr
    lines = run.process.stdout.splitlines()
    for prefix, count in EXPECTED[run.script].progress.items():
        assert sum(line.startswith(prefix) for line in lines) == count, prefix
    assert lines[-1].startswith("metrics: ")


def test_metrics_are_flat_finite_and_sane(run: Run) -> None:
    expected = EXPECTED[run.script]
    metrics = run.read_json("metrics.json")
    assert set(metrics) == expected.keys
    for name, value in metrics.items():
        assert isinstance(value, int | float) and not isinstance(value, bool), name
        assert math.isfinite(value), name
    for name, (low, high) in expected.bounds.items():
        assert low <= metrics[name] <= high, (name, metrics[name])


def test_model_loads_and_predicts(run: Run) -> None:
    n_features = run.read_json("metrics.json")["n_features"]
    model = joblib.load(run.output_dir / "model.joblib")
    assert model.n_features_in_ == n_features
    predictions = model.predict(np.zeros((3, n_features)))
    assert predictions.shape == (3,)
    assert np.isfinite(predictions).all()


def test_predictions_csv_has_one_row_per_prediction(run: Run) -> None:
    expected = EXPECTED[run.script]
    with (run.output_dir / "predictions.csv").open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert tuple(header) == expected.columns
    assert len(rows) == expected.predicted_rows(run.read_json("metrics.json"))
    ids = [int(row[0]) for row in rows]
    assert len(set(ids)) == len(ids)


def test_params_record_effective_settings(run: Run) -> None:
    params = run.read_json("params.json")
    assert params["seed"] == SEED
    assert params["epochs"] == 5
    assert params["folds"] == 2
    assert params["threads"] == 2


def test_same_seed_gives_identical_metrics(run: Run, tmp_path: Path) -> None:
    again = run_script(run.script, tmp_path, *SMALL, *run.args)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "metrics.json").read_text() == (run.output_dir / "metrics.json").read_text()


def test_leaves_no_temporary_files(run: Run) -> None:
    names = {path.name for path in run.output_dir.iterdir()}
    assert names == EXPECTED[run.script].files


@pytest.mark.parametrize("script", SCRIPTS)
def test_bad_value_exits_2_with_one_line(script: str, tmp_path: Path) -> None:
    """Every script validates its standard flags; the other bad values are checked in-process."""
    output_dir = tmp_path / "out"
    process = run_script(script, output_dir, "--folds", "1")
    assert_one_line_error(process, "--folds")
    assert not output_dir.exists()


def test_mlp_progress_has_one_line_per_epoch(mlp: Run) -> None:
    lines = (mlp.output_dir / "progress.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [set(entry) for entry in entries] == [{"step", "value"}] * 5
    assert [entry["step"] for entry in entries] == [1, 2, 3, 4, 5]
    assert all(0.0 <= entry["value"] <= 1.0 for entry in entries)
    # the value is the mean validation accuracy over the folds: its last one is the CV score
    assert entries[-1]["value"] == pytest.approx(mlp.read_json("metrics.json")["accuracy"])
    epoch_lines = [line for line in mlp.process.stdout.splitlines() if line.startswith("epoch ")]
    assert epoch_lines[0].startswith("epoch 1/5 val_accuracy=")
    assert " loss=" in epoch_lines[-1]


@pytest.mark.parametrize("name", ["random_forest", "mlp"])
def test_members_hold_out_the_shared_split(
    members: dict[str, Run], name: str, common: ModuleType
) -> None:
    """Same data set and seed give the same held-out rows, which the final model never saw."""
    split = members[name].read_json("split.json")
    _, y = common.load_dataset("breast_cancer")
    _, test = common.holdout_split(y, SEED)
    assert split == {"dataset": "breast_cancer", "seed": SEED, "test_indices": test.tolist()}
    with (members[name].output_dir / "predictions.csv").open(newline="") as handle:
        held_out = [int(row["id"]) for row in csv.DictReader(handle) if row["holdout"] == "1"]
    assert sorted(held_out) == test.tolist()
    model = joblib.load(members[name].output_dir / "model.joblib")
    metrics = members[name].read_json("metrics.json")
    if name == "mlp":  # the pipeline's scaler counts the rows it was fitted on
        assert model.named_steps["scale"].n_samples_seen_ == len(y) - len(test)
    x, _ = common.load_dataset("breast_cancer")
    proba = model.predict_proba(x[test])[:, 1]
    assert metrics["holdout_roc_auc"] == pytest.approx(roc_auc_score(y[test], proba))


def test_ensemble_is_no_worse_than_its_worst_member(ensemble: Run, members: dict[str, Run]) -> None:
    assert ensemble.process.returncode == 0, ensemble.process.stderr
    metrics = ensemble.read_json("metrics.json")
    assert metrics["n_members"] == 2
    own = [members[name].read_json("metrics.json") for name in ("mlp", "random_forest")]
    # each member scored on the held-out split, in --inputs order, as it scored itself
    for i, member in enumerate(own, start=1):
        assert metrics[f"member_{i}_roc_auc"] == pytest.approx(member["holdout_roc_auc"])
    assert metrics["roc_auc"] >= min(metrics["member_1_roc_auc"], metrics["member_2_roc_auc"])
    assert ensemble.read_json("split.json") == members["mlp"].read_json("split.json")


def test_ensemble_falls_back_to_needs_env_vars(
    ensemble: Run, members: dict[str, Run], tmp_path: Path
) -> None:
    env = {
        "TRAIN_ORCH_NEEDS_RANDOM_FOREST_DIR": str(members["random_forest"].output_dir),
        "TRAIN_ORCH_NEEDS_MLP_DIR": str(members["mlp"].output_dir),
    }
    fallback = start("train_ensemble.py", tmp_path, env=env)
    assert fallback.process.returncode == 0, fallback.process.stderr
    assert fallback.read_json("metrics.json") == ensemble.read_json("metrics.json")
    assert fallback.read_json("params.json")["inputs"] == [env[k] for k in sorted(env)]


def test_ensemble_without_members_exits_2(tmp_path: Path) -> None:
    process = run_script("train_ensemble.py", tmp_path / "out")
    assert_one_line_error(process, "--inputs", "TRAIN_ORCH_NEEDS_")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def digits_mlp(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """An MLP on digits: a multiclass run that cannot join a breast-cancer ensemble."""
    output_dir = tmp_path_factory.mktemp("digits_mlp") / "out"
    member = Run(
        "train_mlp.py", output_dir, run_script("train_mlp.py", output_dir, "--epochs", "1")
    )
    assert member.process.returncode == 0, member.process.stderr
    return member


def test_ensemble_rejects_members_on_different_data_sets(
    digits_mlp: Run, members: dict[str, Run], tmp_path: Path
) -> None:
    inputs = [str(digits_mlp.output_dir), str(members["random_forest"].output_dir)]
    process = run_script("train_ensemble.py", tmp_path / "out", "--inputs", *inputs)
    assert_one_line_error(process, "data set", "'digits'", "'breast_cancer'")
    assert not (tmp_path / "out").exists()


def test_ensemble_rejects_a_multiclass_data_set(digits_mlp: Run, tmp_path: Path) -> None:
    process = run_script("train_ensemble.py", tmp_path, "--inputs", str(digits_mlp.output_dir))
    assert_one_line_error(process, "binary", "10 classes")


def test_ensemble_rejects_members_with_different_held_out_rows(
    members: dict[str, Run], tmp_path: Path
) -> None:
    shifted = tmp_path / "shifted"
    shutil.copytree(members["mlp"].output_dir, shifted)
    split = members["mlp"].read_json("split.json")
    split["test_indices"] = [i + 1 for i in split["test_indices"]]
    (shifted / "split.json").write_text(json.dumps(split))
    inputs = [str(members["random_forest"].output_dir), str(shifted)]
    process = run_script("train_ensemble.py", tmp_path / "out", "--inputs", *inputs)
    assert_one_line_error(process, "held-out rows", str(shifted))


def test_ensemble_rejects_a_member_without_artefacts(
    members: dict[str, Run], tmp_path: Path
) -> None:
    inputs = [str(members["random_forest"].output_dir), str(tmp_path)]
    process = run_script("train_ensemble.py", tmp_path / "out", "--inputs", *inputs)
    assert_one_line_error(process, "model.joblib", str(tmp_path))


@pytest.mark.parametrize("script", SCRIPTS)
def test_standard_flags_are_literal_add_argument_calls(script: str) -> None:
    """The orchestrator discovers flags by reading ``add_argument`` calls with ``ast``."""
    tree = ast.parse((TRAINING_DIR / script).read_text())
    declared = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert declared >= STANDARD_FLAGS


@pytest.fixture(scope="module")
def common() -> ModuleType:
    """``training/common.py``, loaded by path: ``training`` is not a package."""
    spec = importlib.util.spec_from_file_location("training_common", TRAINING_DIR / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("4", 4), ("abc", 1), ("0", 1)])
def test_thread_count_reads_omp_num_threads(
    common: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str | None, threads: int
) -> None:
    if value is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert common.thread_count() == threads


def test_summarise_folds_gives_mean_and_std(common: ModuleType) -> None:
    summary = common.summarise_folds([{"mae": 1.0}, {"mae": 3.0}])
    assert summary == {"mae": 2.0, "mae_std": 1.0}


def test_write_json_atomic_refuses_nan_and_leaves_nothing(
    common: ModuleType, tmp_path: Path
) -> None:
    target = tmp_path / "metrics.json"
    common.write_json_atomic(target, {"a": 1.5})
    with pytest.raises(ValueError, match="JSON"):
        common.write_json_atomic(target, {"a": math.nan})
    assert json.loads(target.read_text()) == {"a": 1.5}
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


def test_holdout_split_is_stratified_disjoint_and_seeded(common: ModuleType) -> None:
    y = np.array([0] * 80 + [1] * 20)
    train, test = common.holdout_split(y, 3)
    assert len(test) == 20 and y[test].sum() == 4  # 20 % of each class
    assert sorted({*train.tolist(), *test.tolist()}) == list(range(100))
    assert list(test) == sorted(test)
    again_train, again_test = common.holdout_split(y, 3)
    assert (again_train == train).all() and (again_test == test).all()
    assert (common.holdout_split(y, 4)[1] != test).any()


def test_fail_prints_one_line_and_exits_2(
    common: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        common.fail("member x is unreadable:\n  traceback line")
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("error: member x is unreadable: traceback line\n")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "flag"), [(["--folds", "1"], "--folds"), (["--epochs", "0"], "--epochs")]
)
def test_validate_standard_args_rejects_in_one_line(
    common: ModuleType, capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    parser = common.make_parser("test parser")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--folds", type=int, default=2)
    with pytest.raises(SystemExit) as excinfo:
        common.validate_standard_args(parser, parser.parse_args(argv))
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and flag in err
