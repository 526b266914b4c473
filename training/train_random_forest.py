"""Train a random forest classifier on scikit-learn's bundled breast cancer data set.

A stratified 20 % of the rows is held out first (``common.holdout_split`` with
``--seed``); cross-validation and the final fit only ever see the other 80 %, so the
forest can be an honest member of ``train_ensemble.py``, which scores its members on
exactly those held-out rows.

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` (number of trees, default 100),
  ``--folds`` (stratified, shuffled CV splits of the training part, default 5),
  ``--seed`` (default 42), plus ``--max-depth`` and ``--min-samples-leaf``;
- writes to ``--output-dir`` (created if missing): ``model.joblib`` (the forest refit
  on the training part only), ``predictions.csv`` (``id,y_true,y_pred,proba,holdout``:
  out-of-fold predictions for training rows, the final model's for held-out rows
  marked ``holdout=1``), ``split.json`` (data set, seed and held-out row indices),
  ``params.json`` (effective parameters) and, last and atomically, ``metrics.json``:
  accuracy, f1, roc_auc, pr_auc (average precision) as fold means plus ``<name>_std``,
  holdout_accuracy and holdout_roc_auc of the final model, and n_samples (all rows),
  n_holdout, n_features;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given ``--seed``,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

DATASET = "breast_cancer"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=100, help="number of trees")
    parser.add_argument(
        "--folds", type=int, default=5, help="stratified CV splits of the training part"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed for folds and trees")
    parser.add_argument("--max-depth", type=int, default=None, help="tree depth (unlimited)")
    parser.add_argument("--min-samples-leaf", type=int, default=1, help="min samples per leaf")
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if args.max_depth is not None and args.max_depth < 1:
        parser.error(f"--max-depth must be >= 1, got {args.max_depth}")
    if args.min_samples_leaf < 1:
        parser.error(f"--min-samples-leaf must be >= 1, got {args.min_samples_leaf}")
    return args


def build_model(args: argparse.Namespace, threads: int) -> RandomForestClassifier:
    """A fresh, seeded forest configured from the flags."""
    return RandomForestClassifier(
        n_estimators=args.epochs,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        n_jobs=threads,
        random_state=args.seed,
    )


def fold_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Classification metrics of one held-out fold."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(y_true, proba)),
        "pr_auc": float(average_precision_score(y_true, proba)),
    }


def cross_validate(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, threads: int
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    """Per-fold metrics plus out-of-fold predicted labels and probabilities."""
    y_pred = np.zeros_like(y)
    proba = np.zeros(len(y))
    folds = []
    splitter = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for k, (train, test) in enumerate(splitter.split(x, y), start=1):
        model = build_model(args, threads).fit(x[train], y[train])
        proba[test] = model.predict_proba(x[test])[:, 1]
        y_pred[test] = model.predict(x[test])
        folds.append(fold_metrics(y[test], y_pred[test], proba[test]))
        common.report(f"fold {k}/{args.folds}", folds[-1])
    return folds, y_pred, proba


def main(argv: list[str] | None = None) -> None:
    """Hold out rows, cross-validate on the rest, refit on it, and write the artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    x, y = common.load_dataset(DATASET)
    train, test = common.holdout_split(y, args.seed)
    print(
        f"random forest: rows={len(y)} holdout={len(test)} folds={args.folds} "
        f"trees={args.epochs} threads={threads}",
        flush=True,
    )
    folds, y_pred, proba = cross_validate(args, x[train], y[train], threads)
    model = build_model(args, threads).fit(x[train], y[train])
    metrics = {
        **common.summarise_folds(folds),
        **common.holdout_metrics(model, x[test], y[test]),
        "n_samples": len(y),
        "n_holdout": len(test),
        "n_features": x.shape[1],
    }
    common.write_split(args.output_dir, DATASET, args.seed, test)
    common.save_run(
        args.output_dir,
        model=model,
        metrics=metrics,
        params=common.run_params(args, threads, dataset=DATASET),
        predictions={
            "id": np.concatenate([train, test]),
            "y_true": np.concatenate([y[train], y[test]]),
            "y_pred": np.concatenate([y_pred, model.predict(x[test])]),
            "proba": np.concatenate([proba, model.predict_proba(x[test])[:, 1]]),
            "holdout": np.concatenate([np.zeros(len(train), int), np.ones(len(test), int)]),
        },
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
