"""Train a multi-layer perceptron classifier, one pass over the data per epoch.

Data: scikit-learn's bundled ``digits`` (default, 10 classes) or ``breast_cancer``
(binary), standardized with a scaler fitted on training rows only. A stratified 20 %
of the rows is held out first (``common.holdout_split`` with ``--seed``); CV and the
final fit only ever see the other 80 %, so with ``--dataset breast_cancer`` the model
can be an honest member of ``train_ensemble.py``.

The ``--folds`` CV models are trained in lockstep, one ``partial_fit`` pass each per
epoch; after every epoch the script prints ``epoch n/N val_accuracy=... loss=...``
(mean validation accuracy and training loss over the folds) and appends
``{"step": n, "value": val_accuracy}`` to ``progress.jsonl``, so the last value there
is the ``accuracy`` in ``metrics.json``. The final model then takes the same number of
passes over the whole training part, without per-epoch evaluation.

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` (passes over the data, default 30),
  ``--folds`` (stratified, shuffled CV splits of the training part, default 3),
  ``--seed`` (default 42), plus ``--dataset``, ``--hidden-units``, ``--learning-rate``,
  ``--batch-size`` and ``--alpha``;
- writes to ``--output-dir`` (created if missing): ``progress.jsonl`` (as it trains),
  ``model.joblib`` (scaler + MLP pipeline fitted on the training part only, taking raw
  features), ``predictions.csv`` (``id,y_true,y_pred,holdout``: out-of-fold predictions
  for training rows, the final model's for held-out rows marked ``holdout=1``),
  ``split.json`` (data set, seed and held-out row indices), ``params.json`` (effective
  parameters) and, last and atomically, ``metrics.json``: accuracy and f1_macro as fold
  means plus ``<name>_std``, loss (final model's last training loss), holdout_accuracy
  and holdout_roc_auc (one-vs-rest macro for digits), n_samples (all rows), n_holdout,
  n_features and n_classes;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given ``--seed``,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import common
import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data")
    parser.add_argument(
        "--folds", type=int, default=3, help="stratified CV splits of the training part"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed for splits and weights")
    parser.add_argument(
        "--dataset", choices=sorted(common.DATASETS), default="digits", help="bundled data set"
    )
    parser.add_argument("--hidden-units", type=int, default=64, help="width of the hidden layer")
    parser.add_argument("--learning-rate", type=float, default=0.003, help="Adam step size")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per minibatch")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if args.hidden_units < 1:
        parser.error(f"--hidden-units must be >= 1, got {args.hidden_units}")
    if not 0 < args.learning_rate <= 1:
        parser.error(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.alpha < 0:
        parser.error(f"--alpha must be >= 0, got {args.alpha}")
    return args


@dataclass
class Learner:
    """A scaler fitted on some training rows and an MLP trained on them pass by pass."""

    scaler: StandardScaler
    mlp: MLPClassifier
    x: np.ndarray  # standardized training rows
    y: np.ndarray

    def step(self, classes: np.ndarray) -> None:
        """One epoch: a single shuffled pass of minibatch updates."""
        self.mlp.partial_fit(self.x, self.y, classes=classes)

    def pipeline(self) -> Pipeline:
        """Scaler and MLP as one model that takes raw features."""
        return Pipeline([("scale", self.scaler), ("mlp", self.mlp)])


def make_learner(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> Learner:
    """A fresh, seeded learner whose scaler has seen only ``x``."""
    scaler = StandardScaler().fit(x)
    mlp = MLPClassifier(
        hidden_layer_sizes=(args.hidden_units,),
        learning_rate_init=args.learning_rate,
        batch_size=args.batch_size,
        alpha=args.alpha,
        random_state=args.seed,
    )
    return Learner(scaler, mlp, scaler.transform(x), y)


def cross_validate(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, progress: common.ProgressLog
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Train the fold models in lockstep, logging each epoch; fold metrics and OOF labels."""
    classes = np.unique(y)
    splitter = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    splits = list(splitter.split(x, y))
    learners = [make_learner(args, x[train], y[train]) for train, _ in splits]
    for epoch in range(1, args.epochs + 1):
        accuracies = []
        for learner, (_, test) in zip(learners, splits, strict=True):
            learner.step(classes)
            accuracies.append(accuracy_score(y[test], learner.pipeline().predict(x[test])))
        val_accuracy = float(np.mean(accuracies))
        loss = float(np.mean([learner.mlp.loss_ for learner in learners]))
        print(
            f"epoch {epoch}/{args.epochs} val_accuracy={val_accuracy:.4f} loss={loss:.4f}",
            flush=True,
        )
        progress.append(epoch, val_accuracy)
    y_pred = np.zeros_like(y)
    folds = []
    for k, (learner, (_, test)) in enumerate(zip(learners, splits, strict=True), start=1):
        y_pred[test] = learner.pipeline().predict(x[test])
        folds.append(
            {
                "accuracy": float(accuracy_score(y[test], y_pred[test])),
                "f1_macro": float(f1_score(y[test], y_pred[test], average="macro")),
            }
        )
        common.report(f"fold {k}/{args.folds}", folds[-1])
    return folds, y_pred


def fit_final(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> Learner:
    """The model to keep: ``--epochs`` passes over all training rows, no evaluation."""
    learner = make_learner(args, x, y)
    classes = np.unique(y)
    for _ in range(args.epochs):
        learner.step(classes)
    return learner


def main(argv: list[str] | None = None) -> None:
    """Hold out rows, cross-validate on the rest, refit on it, and write the artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    x, y = common.load_dataset(args.dataset)
    train, test = common.holdout_split(y, args.seed)
    print(
        f"mlp: dataset={args.dataset} rows={len(y)} holdout={len(test)} folds={args.folds} "
        f"epochs={args.epochs} threads={threads}",
        flush=True,
    )
    with threadpool_limits(limits=threads), common.ProgressLog(args.output_dir) as progress:
        folds, y_pred = cross_validate(args, x[train], y[train], progress)
        final = fit_final(args, x[train], y[train])
    model = final.pipeline()
    metrics = {
        **common.summarise_folds(folds),
        "loss": final.mlp.loss_,
        **common.holdout_metrics(model, x[test], y[test]),
        "n_samples": len(y),
        "n_holdout": len(test),
        "n_features": x.shape[1],
        "n_classes": len(np.unique(y)),
    }
    common.write_split(args.output_dir, args.dataset, args.seed, test)
    common.save_run(
        args.output_dir,
        model=model,
        metrics=metrics,
        params=common.run_params(args, threads),
        predictions={
            "id": np.concatenate([train, test]),
            "y_true": np.concatenate([y[train], y[test]]),
            "y_pred": np.concatenate([y_pred, model.predict(x[test])]),
            "holdout": np.concatenate([np.zeros(len(train), int), np.ones(len(test), int)]),
        },
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
