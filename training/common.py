"""Shared helpers for the bundled ``train_*.py`` scripts.

The scripts run as ``python training/train_<name>.py``, so this directory is on
``sys.path`` and they import this module as ``common``. Everything that is not
model-specific lives here so the scripts honour the orchestrator's contract in
exactly the same way: thread count from ``OMP_NUM_THREADS``, one-line argument
errors, fold summaries and atomic writing of the four artefacts.

Classifiers that can be members of ``train_ensemble.py`` also share the bundled data
sets (``load_dataset``), the held-out split (``holdout_split``), its record
(``split.json``, see ``write_split``) and the metrics of the final model on it
(``holdout_metrics``): members that carve the same split from the same data set and
seed never train on the rows the ensemble is scored on.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import joblib
import numpy as np
from numpy.typing import ArrayLike
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

#: Bundled classification data sets, by the name recorded in ``split.json``.
DATASETS: dict[str, Callable[..., Any]] = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
SPLIT_FILE = "split.json"
PROGRESS_FILE = "progress.jsonl"


class CliParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one stderr line and exit status 2.

    The orchestrator shows a failed script's stderr; argparse's usage block would
    bury the one line that says what was wrong.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit 2, without the usage block."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(message: str) -> NoReturn:
    """Exit 2 with the one-line ``prog: error: message`` a bad flag value gives.

    For problems found after parsing, such as unusable input directories; whitespace
    runs (newlines in a quoted exception, say) collapse so the message stays one line.
    """
    CliParser().error(" ".join(message.split()))


def make_parser(doc: str | None) -> CliParser:
    """Parser described by the first line of the script's docstring."""
    return CliParser(description=doc.strip().splitlines()[0] if doc else None)


def validate_standard_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject ``--epochs``/``--folds`` values that cannot give a meaningful run."""
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.folds < 2:
        parser.error(f"--folds must be >= 2, got {args.folds}")


def thread_count() -> int:
    """Threads the model may use: ``OMP_NUM_THREADS``, or 1 if unset or invalid.

    The orchestrator sets this variable to share cores between concurrent runs; a
    default of 1 keeps an unconfigured run from oversubscribing the machine.
    """
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return 1
    return max(threads, 1)


def seed_everything(seed: int) -> None:
    """Seed the global ``random`` and NumPy generators.

    Models and splitters also get an explicit ``random_state``; this covers any
    code path that falls back to the global generators.
    """
    random.seed(seed)
    np.random.seed(seed)


def run_params(args: argparse.Namespace, threads: int, **extra: Any) -> dict[str, Any]:
    """Effective parameters of a run: every flag but ``--output-dir``, plus threads."""
    params = {key: value for key, value in vars(args).items() if key != "output_dir"}
    return {**params, "threads": threads, **extra}


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """MAE, RMSE, MAPE (as a fraction) and R² of one fold's predictions."""
    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a bundled data set named in ``DATASETS``."""
    x, y = DATASETS[name](return_X_y=True)
    return np.asarray(x, dtype=float), np.asarray(y)


def holdout_split(y: ArrayLike, seed: int, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test row indices of a stratified, seeded held-out split.

    Depends only on the labels, ``seed`` and ``fraction``, so every script that loads
    the same data set with the same seed holds out exactly the same rows.
    """
    labels = np.asarray(y)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed
    )
    return np.sort(train), np.sort(test)


def holdout_metrics(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and ROC AUC of a fitted classifier on held-out rows.

    Binary: AUC of the probability of class 1; multiclass: one-vs-rest macro AUC.
    """
    proba = model.predict_proba(x)
    if proba.shape[1] == 2:
        auc = roc_auc_score(y, proba[:, 1])
    else:
        auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=model.classes_)
    return {
        "holdout_accuracy": float(accuracy_score(y, model.predict(x))),
        "holdout_roc_auc": float(auc),
    }


def summarise_folds(folds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Collapse per-fold metrics into ``{name: mean, name_std: std}``.

    ``metrics.json`` must be flat, and the spread across folds tells a stable model
    from a lucky split.
    """
    if not folds:
        raise ValueError("no folds to summarise")
    summary: dict[str, float] = {}
    for name in folds[0]:
        values = np.array([fold[name] for fold in folds], dtype=float)
        summary[name] = float(values.mean())
        summary[f"{name}_std"] = float(values.std())
    return summary


def report(label: str, values: Mapping[str, float]) -> None:
    """Print one progress line, flushed so the orchestrator can stream it."""
    fields = " ".join(
        f"{name}={value}" if isinstance(value, int) else f"{name}={value:.4f}"
        for name, value in values.items()
    )
    print(f"{label}: {fields}", flush=True)


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` and move it onto ``path`` on success.

    Same directory keeps ``os.replace`` an atomic rename, so a reader never sees a
    half-written artefact; on failure the temporary file is removed.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON via a temp file + rename; NaN/inf are refused."""
    with _atomic_target(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_split(output_dir: Path, dataset: str, seed: int, test_indices: ArrayLike) -> None:
    """Record the held-out rows in ``split.json`` so an ensemble can check its members."""
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "dataset": dataset,
        "seed": seed,
        "test_indices": np.asarray(test_indices, dtype=int).tolist(),
    }
    write_json_atomic(output_dir / SPLIT_FILE, record)


class ProgressLog:
    """``progress.jsonl`` in the output directory: one ``{"step", "value"}`` line per step.

    Each line is flushed as soon as it is written, so the orchestrator can follow the
    file live (and prune on it); the file is truncated when the run starts.
    """

    def __init__(self, output_dir: Path) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        self._handle = (output_dir / PROGRESS_FILE).open("w")

    def __enter__(self) -> ProgressLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()

    def append(self, step: int, value: float) -> None:
        """Write and flush one line; NaN/inf are refused like in ``metrics.json``."""
        line = json.dumps({"step": int(step), "value": float(value)}, allow_nan=False)
        self._handle.write(line + "\n")
        self._handle.flush()


def write_predictions(path: Path, columns: Mapping[str, ArrayLike]) -> None:
    """Write equal-length columns to CSV, header first, one row per prediction."""
    values = [np.asarray(column).tolist() for column in columns.values()]
    if len({len(column) for column in values}) != 1:
        raise ValueError("prediction columns differ in length")
    with _atomic_target(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*values, strict=True))


def _flat_numbers(metrics: Mapping[str, float]) -> dict[str, float]:
    """Check metrics are finite numbers, the only shape ``metrics.json`` may have.

    Counts stay ints; NumPy scalars become plain Python numbers JSON can encode.
    """
    flat = {
        name: int(value) if isinstance(value, int | np.integer) else float(value)
        for name, value in metrics.items()
    }
    bad = [name for name, value in flat.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"non-finite metrics: {', '.join(bad)}")
    return flat


def save_run(
    output_dir: Path,
    *,
    model: Any,
    metrics: Mapping[str, float],
    params: Mapping[str, Any],
    predictions: Mapping[str, ArrayLike],
) -> None:
    """Write model, predictions, params and — last, marking completion — metrics."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with _atomic_target(output_dir / "model.joblib") as tmp:
        joblib.dump(model, tmp)
    write_predictions(output_dir / "predictions.csv", predictions)
    write_json_atomic(output_dir / "params.json", params)
    write_json_atomic(output_dir / "metrics.json", _flat_numbers(metrics))
