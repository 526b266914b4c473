"""Optuna sweeps run as jobs: the scheduler runs each trial like any job (same supervisor,
log, timeout, retries, journal), and this driver asks Optuna for trials and tells it how
they went (ask-and-tell), from the scheduler's thread only.

The study lives in SQLite under the output root; `orchestrator/studies.py` decides which
one a run uses (resumed, or new and why). Optuna is imported only when a plan has a sweep.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.events import SweepStarted
from orchestrator.execute.sweep_storage import Storage
from orchestrator.execute.trial_job import trial_job
from orchestrator.models import JobResult, PlannedJob, Status, Sweep
from orchestrator.run_summary import encode_metric
from orchestrator.studies import (
    IDENTITY_ATTR,
    INTERRUPTED,
    TRIALS_DIR_ATTR,
    Choice,
    choose,
    grid_size,
    grid_space,
    new_trials_dir,
    trial_budget,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["INTERRUPTED", "SweepDriver"]


class SweepDriver:
    def __init__(
        self,
        job: PlannedJob,
        storage: Storage,
        identity: Mapping[str, str],
        *,
        forced: bool = False,
    ) -> None:
        assert job.sweep is not None
        self.job = job
        self.sweep: Sweep = job.sweep
        self.storage = storage
        self.identity = dict(identity)
        self.forced = forced
        self.study: optuna.Study | None = None
        self.choice: Choice | None = None
        self.trials_dir = ""
        self.running: dict[str, optuna.Trial] = {}
        self.progress_offsets: dict[str, int] = {}
        self.stopped = False
        self.started = time.monotonic()
        self.note: str | None = None
        self.error: str | None = None

    # ------------------------------------------------------------------ ask and tell
    def begin(self) -> list[PlannedJob]:
        """Open (or resume) the study and ask for the first trials."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        summaries = sorted(optuna.get_all_study_summaries(self.storage.handle))
        known = {s.study_name: s for s in summaries}
        self.choice = choose(
            self.job.id,
            self.identity,
            {n: s.user_attrs for n, s in known.items()},
            forced=self.forced,
        )
        if self.storage.set_aside and self.choice.new_because is not None and not known:
            why = f"the study store was damaged: set aside as {self.storage.set_aside}"
            self.choice = replace(self.choice, new_because=why)
        so_far = known[self.choice.name].n_trials if self.choice.name in known else 0
        try:
            sampler = self._sampler(optuna, so_far)
        except ImportError as exc:
            self.error = f"sampler '{self.sweep.sampler}' needs {exc.name}: pip install {exc.name}"
            return []
        self.study = optuna.create_study(
            storage=self.storage.handle,
            study_name=self.choice.name,
            sampler=sampler,
            pruner=self._pruner(optuna),
            direction="minimize" if self.sweep.direction == "minimize" else "maximize",
            load_if_exists=True,
        )
        self._claim_trials_dir()
        if self.choice.new_because is not None and (self.choice.earlier or self.storage.set_aside):
            # A first study is no news; one that replaces another is, in the summary too.
            earlier = f" (earlier: {self.choice.earlier})" if self.choice.earlier else ""
            self.note = f"new study {self.choice.name}: {self.choice.new_because}{earlier}"
        for stale in self.study.get_trials(
            deepcopy=False, states=[optuna.trial.TrialState.RUNNING]
        ):
            # Left running by a run that died: it does not count, and is asked again.
            optuna.trial.Trial(self.study, stale._trial_id).set_user_attr(INTERRUPTED, True)
            self.study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
        if self.sweep.sampler == "grid":
            self._requeue_interrupted_grid_points(optuna)
        # The sweep's timeout is for its trials: opening the study (Optuna's import, a slow
        # disk) must not spend it, or a short timeout ends the sweep before its first trial.
        self.started = time.monotonic()
        return self._ask()

    def _claim_trials_dir(self) -> None:
        """Where this study's trials write: recorded in the study, so a resume finds it."""
        assert self.study is not None
        recorded = self.study.user_attrs.get(TRIALS_DIR_ATTR)
        if isinstance(recorded, str) and recorded:
            self.trials_dir = recorded
            return
        self.trials_dir = new_trials_dir(self.job.output_dir, self.study.study_name, Path())
        self.study.set_user_attr(TRIALS_DIR_ATTR, self.trials_dir)
        self.study.set_user_attr(IDENTITY_ATTR, self.identity)

    def _requeue_interrupted_grid_points(self, optuna: Any) -> None:
        """Ask again for the grid points whose trials were interrupted.

        GridSampler counts any finished trial's point as visited, interrupted or not: left
        alone, those points would never run and the last asks would repeat other points.
        """
        assert self.study is not None
        trials = self.study.get_trials(deepcopy=False)
        covered = {
            _point(t.params)
            for t in trials
            if t.state == optuna.trial.TrialState.WAITING
            or (t.state.is_finished() and not t.user_attrs.get(INTERRUPTED))
        }
        for trial in trials:
            if trial.user_attrs.get(INTERRUPTED) and _point(trial.params) not in covered:
                covered.add(_point(trial.params))
                self.study.enqueue_trial(dict(trial.params))

    def announcement(self) -> SweepStarted | None:
        """What the console says as the sweep starts: which study, new or resumed, and why."""
        if self.study is None or self.choice is None:
            return None
        done = self._counted()
        return SweepStarted(
            job=self.job,
            study=self.study.study_name,
            new_because=self.choice.new_because,
            earlier=self.choice.earlier,
            done=done,
            left=max(0, self._budget() - done),
            at=time.time(),
        )

    def _ask(self) -> list[PlannedJob]:
        trials = []
        while (
            not self.stopped
            and len(self.running) < self.sweep.parallel
            and self._counted() + len(self.running) < self._budget()
            and not self._out_of_time()
        ):
            assert self.study is not None
            trial = self.study.ask()
            params = {p.name: self._suggest(trial, p) for p in self.sweep.params}
            job = trial_job(self.job, self.trials_dir, trial.number, params)
            self.running[job.id] = trial
            trials.append(job)
        return trials

    def tell(self, result: JobResult) -> list[PlannedJob]:
        """Record a finished trial; return the trials to run next."""
        import optuna

        assert self.study is not None
        trial = self.running.pop(result.job.id)
        if result.status in {Status.SUCCEEDED, Status.PRUNED}:
            self._report_progress(result.job, trial)
        self.progress_offsets.pop(result.job.id, None)
        state = optuna.trial.TrialState
        value = dict(result.metrics).get(self.sweep.metric)
        if result.status is Status.PRUNED:
            self.study.tell(trial, state=state.PRUNED)
        elif result.status in {Status.CANCELLED, Status.SKIPPED}:
            trial.set_user_attr(INTERRUPTED, True)
            self.study.tell(trial, state=state.FAIL)
        # A NaN objective would fail in Optuna too, but only with a log line of its own.
        elif result.status.ok and value is not None and math.isfinite(value):
            trial.set_user_attr("metrics", dict(result.metrics))
            trial.set_user_attr("output_dir", result.job.output_dir)
            self.study.tell(trial, value)
        else:
            why = (
                result.reason
                if not result.status.ok
                else f"metric '{self.sweep.metric}' missing from metrics.json"
                if value is None
                else f"metric '{self.sweep.metric}' is {encode_metric(value)}"
            )
            trial.set_user_attr("reason", why or result.status.value)
            self.study.tell(trial, state=state.FAIL)
        return self._ask()

    def should_prune(self, job: PlannedJob) -> bool:
        """Report new `progress.jsonl` values of a running trial; True if the pruner says so."""
        trial = self.running.get(job.id)
        if trial is None or self.sweep.pruner == "none":
            return False
        return self._report_progress(job, trial) and trial.should_prune()

    def _report_progress(self, job: PlannedJob, trial: optuna.Trial) -> bool:
        """Report the trial's progress lines written since last time; True if there were any.

        Also called once a trial ends, so a fast trial's curve still reaches the study: the
        pruner judges later trials against the curves of finished ones.
        """
        path = Path(job.output_dir, "progress.jsonl")
        try:
            with path.open("rb") as handle:
                handle.seek(self.progress_offsets.get(job.id, 0))
                data = handle.read()
        except OSError:
            return False
        complete = data[: data.rfind(b"\n") + 1]  # a half-written line waits for next time
        self.progress_offsets[job.id] = self.progress_offsets.get(job.id, 0) + len(complete)
        reported = False
        for line in complete.splitlines():
            try:
                point = json.loads(line)
                trial.report(float(point["value"]), int(point["step"]))
                reported = True
            except (ValueError, KeyError, TypeError):
                continue  # progress is advisory: a bad line is not worth failing over
        return reported

    def stop(self) -> None:
        """Ask for nothing more (the run is stopping)."""
        self.stopped = True

    @property
    def done(self) -> bool:
        return not self.running and (self.stopped or self.error is not None or not self._more())

    def _more(self) -> bool:
        return self._counted() < self._budget() and not self._out_of_time()

    # ----------------------------------------------------------------------- outcome
    def outcome(self) -> tuple[Status, tuple[tuple[str, float], ...], str | None, dict[str, Any]]:
        """The sweep job's own result: the best trial's metrics, or why there is none."""
        if self.error is not None or self.study is None:
            return Status.FAILED, (), self.error, {}
        import optuna

        trials = self.study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        counts: dict[str, int] = {}
        for t in trials:
            if not t.user_attrs.get(INTERRUPTED):
                counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
        info: dict[str, Any] = {
            "study": self.study.study_name,
            "trials": counts,
            "n_trials": self.sweep.n_trials,
            "note": self.note,
        }
        if not complete:
            status = Status.CANCELLED if self.stopped else Status.FAILED
            return status, (), "no trial completed", info
        best = self.study.best_trial
        info.update(
            best_value=best.value,
            best_trial=best.number,
            best_params=best.params,
            best_output_dir=best.user_attrs.get("output_dir"),
            importances=self._importances(optuna),
        )
        metrics = tuple((k, float(v)) for k, v in best.user_attrs.get("metrics", {}).items())
        grid_end = self._grid_end_note()
        if grid_end:
            info["note"] = "; ".join(filter(None, (self.note, grid_end)))
        status = Status.CANCELLED if self.stopped and self._more() else Status.SUCCEEDED
        reason = f"best {self.sweep.metric} {best.value:.4g} (trial {best.number})"
        return status, metrics, reason, info

    def _grid_end_note(self) -> str | None:
        """Say so when the grid, not n_trials, ended the sweep."""
        if self.sweep.sampler != "grid" or self._more():
            return None
        size = grid_size(self.sweep)
        if self.sweep.n_trials <= size:
            return None
        return f"the grid has {size} points: all tried, so {size} of n_trials {self.sweep.n_trials}"

    def _importances(self, optuna: Any) -> dict[str, float]:
        try:
            with warnings.catch_warnings():  # a few-trial study warns; an empty dict says it
                warnings.simplefilter("ignore")
                importances = optuna.importance.get_param_importances(self.study)
        except (RuntimeError, ValueError, ImportError):
            return {}  # too few complete trials, or a single parameter
        return {name: round(float(value), 4) for name, value in importances.items()}

    # ----------------------------------------------------------------------- helpers
    def _counted(self) -> int:
        assert self.study is not None
        return sum(
            1
            for t in self.study.get_trials(deepcopy=False)
            if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED)
        )

    def _budget(self) -> int:
        return trial_budget(self.sweep)

    def _out_of_time(self) -> bool:
        timeout = self.sweep.timeout
        return timeout is not None and time.monotonic() - self.started > timeout

    def _suggest(self, trial: optuna.Trial, param: Any) -> Any:
        if param.kind == "choices":
            return trial.suggest_categorical(param.name, list(param.choices))
        if param.kind == "int":
            return trial.suggest_int(param.name, int(param.low), int(param.high), log=param.log)
        return trial.suggest_float(param.name, param.low, param.high, log=param.log)

    def _sampler(self, optuna: Any, trials_so_far: int) -> Any:
        """A sampler seeded from the study's state: a resumed study proposes new points.

        Seeded alike on every run, a sampler resumed after a kill would draw its first
        run's points again (trials 3-5 repeating 0-2); the seed still makes a run repeatable.
        """
        seed = int(self.sweep.digest[:8] or "0", 16) + trials_so_far
        kind = self.sweep.sampler
        if kind == "grid":
            return _grid_sampler(optuna, grid_space(self.sweep), seed)
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "cmaes":
            if importlib.util.find_spec("cmaes") is None:  # say so before any trial runs
                raise ModuleNotFoundError("cmaes is not installed", name="cmaes")
            return optuna.samplers.CmaEsSampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed)

    def _pruner(self, optuna: Any) -> Any:
        if self.sweep.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner()
        if self.sweep.pruner == "none":
            return optuna.pruners.NopPruner()
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def _grid_sampler(optuna: Any, space: dict[str, list[Any]], seed: int) -> Any:
    class GridToTheEnd(optuna.samplers.GridSampler):  # type: ignore[misc]
        """GridSampler that leaves stopping to the driver.

        Its own stop at the grid's end is `Study.stop`, a RuntimeError outside `optimize`
        (ask-and-tell); the driver's budget already ends the sweep at the grid's size.
        """

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return GridToTheEnd(space, seed=seed)


def _point(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in params.items()))
