"""Train an isolation forest anomaly detector on a seeded synthetic data set.

The data (generated with a NumPy RNG seeded by ``--seed``) are ``--inliers`` points
from four Gaussian blobs (unit spread, centres drawn in [-5, 5]) in 8 dimensions, plus
``--anomaly-fraction`` of the total as anomalies drawn uniformly from [-10, 10] in every
dimension. Labels are known (1 = anomaly), so detection is scored like a classifier
with the anomaly as the positive class; the forest itself never sees them.

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` (number of trees, default 200),
  ``--folds`` (stratified, shuffled CV splits over the labelled rows, default 5; the
  forest is fitted on a fold's training rows and scores its test rows), ``--seed``
  (default 42), plus ``--contamination`` (expected anomaly share, sets the decision
  threshold; a number in (0, 0.5] or ``auto``), ``--inliers`` and
  ``--anomaly-fraction``;
- writes to ``--output-dir`` (created if missing): ``model.joblib`` (the forest refit
  on all rows; ``predict`` gives -1 for an anomaly, 1 otherwise), ``predictions.csv``
  (out-of-fold ``id,y_true,y_pred,score``; 1 = anomaly, score = -score_samples, higher
  is more anomalous), ``params.json`` (effective parameters) and, last and atomically,
  ``metrics.json``: precision, recall, f1, pr_auc (average precision) and roc_auc as
  fold means plus ``<name>_std``, and n_samples, n_anomalies, n_features;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given ``--seed``,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold

N_FEATURES = 8
N_BLOBS = 4
CENTRE_RANGE = 5.0
ANOMALY_RANGE = 10.0
MAX_CONTAMINATION = 0.5  # sklearn's limit: a threshold beyond the median is meaningless


def contamination(text: str) -> float | str:
    """``auto`` or a share of anomalies in (0, 0.5], as ``IsolationForest`` accepts."""
    if text == "auto":
        return text
    value = float(text)  # argparse turns the ValueError into a one-line usage error
    if not 0 < value <= MAX_CONTAMINATION:
        raise argparse.ArgumentTypeError(f"must be in (0, 0.5] or 'auto', got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=200, help="number of trees")
    parser.add_argument("--folds", type=int, default=5, help="stratified CV splits")
    parser.add_argument("--seed", type=int, default=42, help="seed for data, folds and trees")
    parser.add_argument(
        "--contamination",
        type=contamination,
        default=0.03,
        help="expected anomaly share in (0, 0.5], or 'auto'",
    )
    parser.add_argument("--inliers", type=int, default=2000, help="number of normal points")
    parser.add_argument(
        "--anomaly-fraction", type=float, default=0.03, help="share of anomalies in the data"
    )
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if args.inliers < 10 * args.folds:
        parser.error(f"--inliers must be >= 10 * --folds ({10 * args.folds}), got {args.inliers}")
    if not 0 < args.anomaly_fraction < MAX_CONTAMINATION:
        parser.error(f"--anomaly-fraction must be in (0, 0.5), got {args.anomaly_fraction}")
    if n_anomalies(args) < args.folds:
        parser.error(
            f"--anomaly-fraction {args.anomaly_fraction} gives {n_anomalies(args)} anomalies, "
            f"fewer than --folds {args.folds}"
        )
    return args


def n_anomalies(args: argparse.Namespace) -> int:
    """Anomalies to inject so they make up ``--anomaly-fraction`` of all rows."""
    return round(args.inliers * args.anomaly_fraction / (1 - args.anomaly_fraction))


def make_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled features and labels (1 = anomaly) of the synthetic data set."""
    rng = np.random.default_rng(args.seed)
    centres = rng.uniform(-CENTRE_RANGE, CENTRE_RANGE, size=(N_BLOBS, N_FEATURES))
    blob = rng.integers(N_BLOBS, size=args.inliers)
    inliers = centres[blob] + rng.normal(size=(args.inliers, N_FEATURES))
    anomalies = rng.uniform(-ANOMALY_RANGE, ANOMALY_RANGE, size=(n_anomalies(args), N_FEATURES))
    x = np.vstack([inliers, anomalies])
    y = np.concatenate([np.zeros(len(inliers), int), np.ones(len(anomalies), int)])
    order = rng.permutation(len(y))
    return x[order], y[order]


def build_model(args: argparse.Namespace, threads: int) -> IsolationForest:
    """A fresh, seeded forest configured from the flags."""
    return IsolationForest(
        n_estimators=args.epochs,
        contamination=args.contamination,
        n_jobs=threads,
        random_state=args.seed,
    )


def fold_metrics(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Detection metrics of one test fold, anomaly (1) being the positive class."""
    return {
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "pr_auc": float(average_precision_score(y_true, score)),
        "roc_auc": float(roc_auc_score(y_true, score)),
    }


def cross_validate(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, threads: int
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    """Per-fold metrics plus out-of-fold anomaly labels and scores."""
    y_pred = np.zeros_like(y)
    score = np.zeros(len(y))
    folds = []
    splitter = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for k, (train, test) in enumerate(splitter.split(x, y), start=1):
        model = build_model(args, threads).fit(x[train])  # unsupervised: labels unused
        score[test] = -model.score_samples(x[test])
        y_pred[test] = model.predict(x[test]) == -1
        folds.append(fold_metrics(y[test], y_pred[test], score[test]))
        common.report(f"fold {k}/{args.folds}", folds[-1])
    return folds, y_pred, score


def main(argv: list[str] | None = None) -> None:
    """Cross-validate, refit on all rows, and write the run's artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    x, y = make_data(args)
    print(
        f"isolation forest: rows={len(y)} anomalies={int(y.sum())} folds={args.folds} "
        f"trees={args.epochs} threads={threads}",
        flush=True,
    )
    folds, y_pred, score = cross_validate(args, x, y, threads)
    metrics = {
        **common.summarise_folds(folds),
        "n_samples": len(y),
        "n_anomalies": int(y.sum()),
        "n_features": x.shape[1],
    }
    common.save_run(
        args.output_dir,
        model=build_model(args, threads).fit(x),
        metrics=metrics,
        params=common.run_params(args, threads),
        predictions={"id": np.arange(len(y)), "y_true": y, "y_pred": y_pred, "score": score},
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
