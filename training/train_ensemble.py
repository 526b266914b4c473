"""Combine already-trained binary classifiers into a soft-voting ensemble.

Members are the output directories of upstream jobs: ``--inputs DIR [DIR ...]`` or,
when the flag is not given, every ``TRAIN_ORCH_NEEDS_<ID>_DIR`` environment variable
the orchestrator sets, in order of the variable names. Each member directory must hold
``model.joblib`` (a classifier taking the data set's raw features), ``split.json``
(see ``common.write_split``) and ``metrics.json`` (written last, so the member's run
completed); all members must name the same bundled data set and the same held-out
rows, which none of them trained on. Nothing is trained here: the ensemble averages the
members' ``predict_proba`` (weighted by ``--weights``) on those held-out rows and
scores the result there, next to each member alone. Needs scikit-learn >= 1.6
(``FrozenEstimator``).

Contract honoured (shared by every ``train_*.py`` the orchestrator discovers):

- flags: ``--output-dir`` (required), ``--epochs`` and ``--folds`` (accepted, validated
  and recorded in ``params.json``, but unused), ``--seed`` (default 42, only recorded),
  plus ``--inputs`` and ``--weights``;
- writes to ``--output-dir`` (created if missing): ``model.joblib`` (a soft
  ``VotingClassifier`` over the frozen members), ``predictions.csv`` (held-out
  ``id,y_true,y_pred,proba``, id = data set row), ``split.json`` (the members' split, so
  an ensemble can itself be a member), ``params.json`` (effective parameters, member
  directories included) and, last and atomically, ``metrics.json``: accuracy, f1,
  roc_auc and pr_auc (average precision) of the ensemble on the held-out rows,
  ``member_<i>_roc_auc`` for member i = 1, 2, ... in input order, and n_members,
  n_holdout, n_features;
- uses ``OMP_NUM_THREADS`` threads (default 1), is deterministic given its members,
  needs no network, and exits 2 with a one-line stderr message on a bad flag value, a
  missing or unreadable member, members that disagree on data set or held-out rows, or
  a data set that is not binary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
import joblib
import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score
from threadpoolctl import threadpool_limits

NEEDS_ENV = re.compile(r"TRAIN_ORCH_NEEDS_(?P<id>.+)_DIR")
MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class Member:
    """One upstream run: its directory, fitted model and recorded split."""

    directory: Path
    model: Any
    dataset: str
    seed: int
    test_indices: tuple[int, ...]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line; ``args.inputs`` is always filled in."""
    parser = common.make_parser(__doc__)
    parser.add_argument("--output-dir", type=Path, required=True, help="artefact directory")
    parser.add_argument("--epochs", type=int, default=1, help="unused; recorded in params.json")
    parser.add_argument("--folds", type=int, default=5, help="unused; recorded in params.json")
    parser.add_argument("--seed", type=int, default=42, help="unused; recorded in params.json")
    parser.add_argument(
        "--inputs",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="member run directories (default: TRAIN_ORCH_NEEDS_<ID>_DIR, by name)",
    )
    parser.add_argument(
        "--weights", type=float, nargs="+", default=None, help="one weight per member"
    )
    args = parser.parse_args(argv)
    common.validate_standard_args(parser, args)
    if args.inputs is None:
        args.inputs = inputs_from_env(os.environ)
    if not args.inputs:
        parser.error("no members: pass --inputs DIR [DIR ...] or set TRAIN_ORCH_NEEDS_<ID>_DIR")
    if args.weights is not None:
        check_weights(parser, args.weights, len(args.inputs))
    return args


def inputs_from_env(environ: Mapping[str, str]) -> list[Path]:
    """Directories of non-empty ``TRAIN_ORCH_NEEDS_<ID>_DIR`` variables, sorted by name."""
    names = sorted(name for name in environ if NEEDS_ENV.fullmatch(name) and environ[name])
    return [Path(environ[name]) for name in names]


def check_weights(parser: argparse.ArgumentParser, weights: list[float], members: int) -> None:
    """One finite, non-negative weight per member, not all zero."""
    if len(weights) != members:
        parser.error(f"--weights has {len(weights)} values for {members} members")
    if not all(np.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        parser.error(f"--weights must be finite, >= 0 and not all 0, got {weights}")


def load_member(directory: Path) -> Member:
    """Read one member's model and split, or exit 2 saying what is wrong with it."""
    for name in (MODEL_FILE, common.SPLIT_FILE, METRICS_FILE):  # metrics.json: run completed
        if not (directory / name).is_file():
            common.fail(f"member {directory} has no {name} (did its job finish?)")
    try:
        split = json.loads((directory / common.SPLIT_FILE).read_text())
        member = Member(
            directory,
            joblib.load(directory / MODEL_FILE),
            str(split["dataset"]),
            int(split["seed"]),
            tuple(int(i) for i in split["test_indices"]),
        )
    except Exception as exc:  # any unreadable artefact is the same one-line failure
        common.fail(f"member {directory} is unreadable: {type(exc).__name__}: {exc}")
    if not hasattr(member.model, "predict_proba"):
        common.fail(f"member {directory}: model has no predict_proba")
    return member


def check_members(members: list[Member]) -> None:
    """Every member must name the first one's data set and held-out rows."""
    first = members[0]
    if first.dataset not in common.DATASETS:
        common.fail(f"member {first.directory}: unknown data set {first.dataset!r}")
    for other in members[1:]:
        if other.dataset != first.dataset:
            common.fail(
                f"members disagree on the data set: {first.directory} used {first.dataset!r}, "
                f"{other.directory} used {other.dataset!r}"
            )
        if other.test_indices != first.test_indices:
            common.fail(
                f"members disagree on the held-out rows: {first.directory} (seed {first.seed}) "
                f"and {other.directory} (seed {other.seed})"
            )


def check_binary(members: list[Member], y: np.ndarray) -> None:
    """The metrics need two classes, and every member must order them the same way."""
    classes = np.unique(y)
    if len(classes) != 2:
        common.fail(
            f"ensemble needs a binary task; data set {members[0].dataset!r} has "
            f"{len(classes)} classes"
        )
    for member in members:
        if not np.array_equal(getattr(member.model, "classes_", None), classes):
            common.fail(f"member {member.directory}: model classes differ from {classes}")


def score(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Classification metrics on the held-out rows; proba is that of class 1."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(y_true, proba)),
        "pr_auc": float(average_precision_score(y_true, proba)),
    }


def build_ensemble(
    args: argparse.Namespace, members: list[Member], x: np.ndarray, y: np.ndarray
) -> VotingClassifier:
    """Soft vote over the frozen members; ``fit`` only records the classes."""
    voting = VotingClassifier(
        [(f"member_{i}", FrozenEstimator(m.model)) for i, m in enumerate(members, start=1)],
        voting="soft",
        weights=args.weights,
    )
    return voting.fit(x, y)  # frozen: the members are not refitted


def main(argv: list[str] | None = None) -> None:
    """Load and check the members, vote on the held-out rows, and write the artefacts."""
    args = parse_args(argv)
    common.seed_everything(args.seed)
    threads = common.thread_count()
    members = [load_member(directory) for directory in args.inputs]
    check_members(members)
    x, y = common.load_dataset(members[0].dataset)
    check_binary(members, y)
    test = np.array(members[0].test_indices, dtype=int)
    if test.size == 0 or test.min() < 0 or test.max() >= len(y):
        common.fail(f"member {members[0].directory}: held-out rows outside the data set")
    train = np.setdiff1d(np.arange(len(y)), test)
    print(
        f"ensemble: dataset={members[0].dataset} members={len(members)} holdout={len(test)} "
        f"threads={threads}",
        flush=True,
    )
    metrics: dict[str, float] = {}
    with threadpool_limits(limits=threads):
        for i, member in enumerate(members, start=1):
            auc = roc_auc_score(y[test], member.model.predict_proba(x[test])[:, 1])
            metrics[f"member_{i}_roc_auc"] = float(auc)
            common.report(f"member {i}/{len(members)} {member.directory}", {"roc_auc": auc})
        ensemble = build_ensemble(args, members, x[train], y[train])
        proba = ensemble.predict_proba(x[test])[:, 1]
        y_pred = ensemble.predict(x[test])
    metrics = {
        **score(y[test], y_pred, proba),
        **metrics,
        "n_members": len(members),
        "n_holdout": len(test),
        "n_features": x.shape[1],
    }
    common.write_split(args.output_dir, members[0].dataset, members[0].seed, test)
    common.save_run(
        args.output_dir,
        model=ensemble,
        metrics=metrics,
        params=common.run_params(args, threads, inputs=[str(d) for d in args.inputs]),
        predictions={"id": test, "y_true": y[test], "y_pred": y_pred, "proba": proba},
    )
    common.report("metrics", metrics)


if __name__ == "__main__":
    main()
