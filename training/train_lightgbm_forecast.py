"""Train a LightGBM one-step-ahead forecaster on a synthetic hourly load series.

The series (``--days`` of hourly values, generated with a NumPy RNG seeded by
``--seed``) is trend + daily + weekly seasonality + noise. Features are lags of 1, 24
and 168 hours plus hour of day and day of week; a row only ever sees earlier values.

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` (boosting rounds, default 200),
  ``--folds`` (TimeSeriesSplit splits, default 3: every fold trains strictly on the
  past and tests on the block that follows), ``--seed`` (default 42), plus
  ``--learning-rate``, ``--num-leaves`` and ``--days``;
- writes to ``--output-dir`` (created if missing): ``model.joblib`` (refit on all
  rows), ``predictions.csv`` (test-fold ``id,y_true,y_pred``, id = hour index),
  ``params.json`` (effective parameters) and, last and atomically, ``metrics.json``:
  mae, rmse, mape, r2 as fold means plus ``<name>_std``, and n_samples, n_features;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given ``--seed``,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
import numpy as np
from lightgbm import LGBMRegressor
from sklearn.model_selection import TimeSeriesSplit

LAGS = (1, 24, 168)
HOURS_PER_DAY = 24
MIN_DAYS = 14  # the 168 h lag eats a week; keep at least another week to learn from


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=200, help="boosting rounds")
    parser.add_argument("--folds", type=int, default=3, help="TimeSeriesSplit splits")
    parser.add_argument("--seed", type=int, default=42, help="seed for the series and model")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="shrinkage")
    parser.add_argument("--num-leaves", type=int, default=31, help="leaves per tree")
    parser.add_argument("--days", type=int, default=60, help="length of the series in days")
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if not 0 < args.learning_rate <= 1:
        parser.error(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    if args.num_leaves < 2:
        parser.error(f"--num-leaves must be >= 2, got {args.num_leaves}")
    if args.days < MIN_DAYS:
        parser.error(f"--days must be >= {MIN_DAYS}, got {args.days}")
    return args


def make_series(days: int, seed: int) -> np.ndarray:
    """Hourly load in MW starting on a Monday at midnight: always positive."""
    hours = np.arange(days * HOURS_PER_DAY)
    hour_of_day = hours % HOURS_PER_DAY
    day_of_week = hours // HOURS_PER_DAY % 7
    trend = 1000.0 + 1.5 * hours / HOURS_PER_DAY
    daily = 150.0 * np.sin(2 * np.pi * (hour_of_day - 8) / HOURS_PER_DAY)
    weekly = np.where(day_of_week >= 5, -120.0, 0.0)
    noise = np.random.default_rng(seed).normal(0.0, 25.0, size=hours.size)
    return trend + daily + weekly + noise


def make_features(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lag and calendar features, target and hour index for every hour with all lags."""
    hours = np.arange(max(LAGS), series.size)
    lags = [series[hours - lag] for lag in LAGS]
    calendar = [hours % HOURS_PER_DAY, hours // HOURS_PER_DAY % 7]
    return np.column_stack([*lags, *calendar]).astype(float), series[hours], hours


def build_model(args: argparse.Namespace, threads: int) -> LGBMRegressor:
    """A fresh, seeded, quiet regressor whose result does not depend on scheduling."""
    return LGBMRegressor(
        n_estimators=args.epochs,
        learning_rate=args.learning_rate,
        num_leaves=args.num_leaves,
        n_jobs=threads,
        random_state=args.seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )


def cross_validate(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, threads: int
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    """Per-fold metrics, then the row positions and predictions of every test block."""
    tested, predicted = [], []
    folds = []
    for k, (train, test) in enumerate(TimeSeriesSplit(n_splits=args.folds).split(x), start=1):
        model = build_model(args, threads).fit(x[train], y[train])
        tested.append(test)
        predicted.append(model.predict(x[test]))
        folds.append(common.regression_metrics(y[test], predicted[-1]))
        common.report(f"fold {k}/{args.folds} (train={len(train)} test={len(test)})", folds[-1])
    return folds, np.concatenate(tested), np.concatenate(predicted)


def main(argv: list[str] | None = None) -> None:
    """Cross-validate over time, refit on all rows, and write the run's artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    x, y, hours = make_features(make_series(args.days, args.seed))
    print(
        f"lightgbm forecast: rows={len(y)} folds={args.folds} rounds={args.epochs} "
        f"threads={threads}",
        flush=True,
    )
    folds, tested, y_pred = cross_validate(args, x, y, threads)
    metrics = {**common.summarise_folds(folds), "n_samples": len(y), "n_features": x.shape[1]}
    common.save_run(
        args.output_dir,
        model=build_model(args, threads).fit(x, y),
        metrics=metrics,
        params=common.run_params(args, threads, lags=list(LAGS)),
        predictions={"id": hours[tested], "y_true": y[tested], "y_pred": y_pred},
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
