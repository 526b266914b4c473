"""Train an XGBoost regressor on scikit-learn's bundled diabetes data set.

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` (maximum boosting rounds, default
  300), ``--folds`` (shuffled KFold splits, default 5), ``--seed`` (default 42), plus
  ``--max-depth``, ``--learning-rate``, ``--early-stopping-rounds`` and
  ``--validation-fraction``;
- each fold early-stops on a validation split carved from its training part only;
  the final model is refit on all rows for the mean best round count;
- writes to ``--output-dir`` (created if missing): ``model.joblib``,
  ``predictions.csv`` (out-of-fold ``id,y_true,y_pred``), ``params.json`` (effective
  parameters) and, last and atomically, ``metrics.json``: mae, rmse, mape, r2 and
  best_iteration as fold means plus ``<name>_std``, and n_samples, n_features;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given ``--seed``,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold, train_test_split
from xgboost import XGBRegressor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=300, help="maximum boosting rounds")
    parser.add_argument("--folds", type=int, default=5, help="KFold CV splits")
    parser.add_argument("--seed", type=int, default=42, help="seed for splits and boosting")
    parser.add_argument("--max-depth", type=int, default=3, help="tree depth")
    parser.add_argument("--learning-rate", type=float, default=0.05, help="shrinkage")
    parser.add_argument("--early-stopping-rounds", type=int, default=20, help="patience")
    parser.add_argument(
        "--validation-fraction", type=float, default=0.2, help="share of a fold's training rows"
    )
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if args.max_depth < 1:
        parser.error(f"--max-depth must be >= 1, got {args.max_depth}")
    if not 0 < args.learning_rate <= 1:
        parser.error(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    if args.early_stopping_rounds < 1:
        parser.error(f"--early-stopping-rounds must be >= 1, got {args.early_stopping_rounds}")
    if not 0 < args.validation_fraction < 1:
        parser.error(f"--validation-fraction must be in (0, 1), got {args.validation_fraction}")
    return args


def build_model(
    args: argparse.Namespace, threads: int, rounds: int, early_stopping: bool
) -> XGBRegressor:
    """A fresh, seeded regressor; xgboost >= 2 takes early stopping in the constructor."""
    return XGBRegressor(
        n_estimators=rounds,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        early_stopping_rounds=args.early_stopping_rounds if early_stopping else None,
        eval_metric="rmse",
        tree_method="hist",
        n_jobs=threads,
        random_state=args.seed,
    )


def fit_fold(args: argparse.Namespace, x: np.ndarray, y: np.ndarray, threads: int) -> XGBRegressor:
    """Fit on one fold's training rows, early-stopping on a split of those rows."""
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=args.validation_fraction, random_state=args.seed
    )
    model = build_model(args, threads, args.epochs, early_stopping=True)
    return model.fit(x_fit, y_fit, eval_set=[(x_val, y_val)], verbose=False)


def cross_validate(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, threads: int
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Per-fold metrics (incl. best_iteration) and out-of-fold predictions."""
    y_pred = np.zeros(len(y))
    folds = []
    splitter = KFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for k, (train, test) in enumerate(splitter.split(x), start=1):
        model = fit_fold(args, x[train], y[train], threads)
        y_pred[test] = model.predict(x[test])  # predicts with the best iteration
        metrics = common.regression_metrics(y[test], y_pred[test])
        folds.append({**metrics, "best_iteration": float(model.best_iteration)})
        common.report(f"fold {k}/{args.folds}", folds[-1])
    return folds, y_pred


def main(argv: list[str] | None = None) -> None:
    """Cross-validate, refit on all rows, and write the run's artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    x, y = load_diabetes(return_X_y=True)
    print(
        f"xgboost: rows={len(y)} folds={args.folds} max_rounds={args.epochs} threads={threads}",
        flush=True,
    )
    folds, y_pred = cross_validate(args, x, y, threads)
    metrics = {**common.summarise_folds(folds), "n_samples": len(y), "n_features": x.shape[1]}
    final_rounds = round(metrics["best_iteration"]) + 1
    common.save_run(
        args.output_dir,
        model=build_model(args, threads, final_rounds, early_stopping=False).fit(x, y),
        metrics=metrics,
        params=common.run_params(args, threads, final_n_estimators=final_rounds),
        predictions={"id": np.arange(len(y)), "y_true": y, "y_pred": y_pred},
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
