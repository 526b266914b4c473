"""Tests for the bundled ``training/train_*.py`` scripts and their shared helpers.

Each script runs for real in a subprocess, as the orchestrator runs it, with small
settings; the metric bounds were measured at these settings over several seeds and
widened by a margin.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import math
import os
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

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = REPO_ROOT / "training"
SEED = 7
SMALL = ("--epochs", "5", "--folds", "2", "--seed", str(SEED))
STANDARD_FLAGS = {"--output-dir", "--epochs", "--folds", "--seed"}
CLASSIFICATION = ("accuracy", "f1", "roc_auc", "pr_auc")
REGRESSION = ("mae", "rmse", "mape", "r2")


@dataclass(frozen=True)
class Expected:
    """What one script must produce with the ``SMALL`` settings."""

    metrics: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    columns: tuple[str, ...]
    predicted_rows: Callable[[int], int]  # n_samples -> rows in predictions.csv

    @property
    def keys(self) -> set[str]:
        """Every key metrics.json must hold: fold means, their stds and the shape."""
        with_std = {key for name in self.metrics for key in (name, f"{name}_std")}
        return with_std | {"n_samples", "n_features"}


EXPECTED = {
    "train_random_forest.py": Expected(
        metrics=CLASSIFICATION,
        bounds={"accuracy": (0.90, 1.0), "f1": (0.90, 1.0), "roc_auc": (0.95, 1.0)},
        columns=("id", "y_true", "y_pred", "proba"),
        predicted_rows=lambda n: n,  # out-of-fold: every row once
    ),
    "train_xgboost.py": Expected(
        metrics=(*REGRESSION, "best_iteration"),
        bounds={"r2": (0.10, 1.0), "mape": (0.0, 0.7), "best_iteration": (0.0, 4.0)},
        columns=("id", "y_true", "y_pred"),
        predicted_rows=lambda n: n,
    ),
    "train_lightgbm_forecast.py": Expected(
        metrics=REGRESSION,
        bounds={"r2": (0.45, 1.0), "mape": (0.0, 0.1)},
        columns=("id", "y_true", "y_pred"),
        predicted_rows=lambda n: 2 * (n // 3),  # TimeSeriesSplit: 2 test blocks of n // 3
    ),
}
SCRIPTS = sorted(EXPECTED)


@dataclass(frozen=True)
class Run:
    """One finished script run."""

    script: str
    output_dir: Path
    process: subprocess.CompletedProcess[str]

    def read_json(self, name: str) -> dict[str, Any]:
        """Parse one of the run's JSON artefacts."""
        data = json.loads((self.output_dir / name).read_text())
        assert isinstance(data, dict)
        return data


def run_script(script: str, output_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a training script from the repo root, as the orchestrator does."""
    return subprocess.run(
        [sys.executable, f"training/{script}", "--output-dir", str(output_dir), *args],
        cwd=REPO_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module", params=SCRIPTS)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Each script run once with the small settings, shared by the tests below."""
    script: str = request.param
    output_dir = tmp_path_factory.mktemp(Path(script).stem) / "out"  # must be created
    return Run(script, output_dir, run_script(script, output_dir, *SMALL))


def test_exits_zero_and_prints_progress(run: Run) -> None:
    assert run.process.returncode == 0, run.process.stderr
    lines = run.process.stdout.splitlines()
    assert sum(line.startswith("fold ") for line in lines) == 2
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
    n_samples = run.read_json("metrics.json")["n_samples"]
    assert len(rows) == expected.predicted_rows(n_samples)
    ids = [int(row[0]) for row in rows]
    assert len(set(ids)) == len(ids)


def test_params_record_effective_settings(run: Run) -> None:
    params = run.read_json("params.json")
    assert params["seed"] == SEED
    assert params["epochs"] == 5
    assert params["folds"] == 2
    assert params["threads"] == 2


def test_same_seed_gives_identical_metrics(run: Run, tmp_path: Path) -> None:
    again = run_script(run.script, tmp_path, *SMALL)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "metrics.json").read_text() == (run.output_dir / "metrics.json").read_text()


def test_leaves_no_temporary_files(run: Run) -> None:
    names = {path.name for path in run.output_dir.iterdir()}
    assert names == {"metrics.json", "model.joblib", "params.json", "predictions.csv"}


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("bad", [("--folds", "1"), ("--epochs", "0")])
def test_bad_value_exits_2_with_one_line(script: str, bad: tuple[str, str], tmp_path: Path) -> None:
    output_dir = tmp_path / "out"
    process = run_script(script, output_dir, *bad)
    assert process.returncode == 2
    assert len(process.stderr.splitlines()) == 1
    assert bad[0] in process.stderr
    assert not output_dir.exists()


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
