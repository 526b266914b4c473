"""Optuna sweeps run as jobs: the scheduler runs each trial like any job (same supervisor,
log, timeout, retries, journal), and this driver asks Optuna for trials and tells it how
they went (ask-and-tell), from the scheduler's thread only.

The study lives in SQLite under the output root, named after the job and a digest of the
sweep definition: rerunning the same command resumes it, a changed definition starts a
new one. Optuna is imported only when a plan has a sweep.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import sqlite3
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.models import JobResult, PlannedJob, Status, Sweep
from orchestrator.plan import output_dir_of, safe_name
from orchestrator.run_summary import encode_metric

if TYPE_CHECKING:
    import optuna

#: Trials told FAIL only because the run stopped (or died) under them: asked again later.
INTERRUPTED = "interrupted"
STORAGE_FILE = ".train_orch/optuna.db"


def default_storage(output_root: str) -> str:
    path = Path(output_root, STORAGE_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:  # WAL: readers (optuna-dashboard) never block a run
        db.execute("PRAGMA journal_mode=WAL")
    return f"sqlite:///{path}"


class SweepDriver:
    def __init__(self, job: PlannedJob, storage: str, output_root: str) -> None:
        assert job.sweep is not None
        self.job = job
        self.sweep: Sweep = job.sweep
        self.storage = storage
        self.output_root = output_root
        self.study: optuna.Study | None = None
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
        try:
            sampler = self._sampler(optuna)
        except ImportError as exc:
            self.error = f"sampler '{self.sweep.sampler}' needs {exc.name}: pip install {exc.name}"
            return []
        name = f"{self.job.id}-{self.sweep.digest}"
        earlier = [
            s.study_name
            for s in optuna.get_all_study_summaries(self.storage)
            if s.study_name.startswith(f"{self.job.id}-") and s.study_name != name
        ]
        self.study = optuna.create_study(
            storage=self.storage,
            study_name=name,
            sampler=sampler,
            pruner=self._pruner(optuna),
            direction="minimize" if self.sweep.direction == "minimize" else "maximize",
            load_if_exists=True,
        )
        if earlier:
            self.note = (
                f"sweep definition changed: new study {name} (earlier: {', '.join(earlier)})"
            )
        for stale in self.study.get_trials(
            deepcopy=False, states=[optuna.trial.TrialState.RUNNING]
        ):
            # Left running by a run that died: it does not count, and is asked again.
            optuna.trial.Trial(self.study, stale._trial_id).set_user_attr(INTERRUPTED, True)
            self.study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
        return self._ask()

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
            job = self.trial_job(trial.number, params)
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
        status = Status.CANCELLED if self.stopped and self._more() else Status.SUCCEEDED
        reason = f"best {self.sweep.metric} {best.value:.4g} (trial {best.number})"
        return status, metrics, reason, info

    def _importances(self, optuna: Any) -> dict[str, float]:
        try:
            with warnings.catch_warnings():  # a few-trial study warns; an empty dict says it
                warnings.simplefilter("ignore")
                importances = optuna.importance.get_param_importances(self.study)
        except (RuntimeError, ValueError, ImportError):
            return {}  # too few complete trials, or a single parameter
        return {name: round(float(value), 4) for name, value in importances.items()}

    # ----------------------------------------------------------------------- helpers
    def trial_job(self, number: int, params: dict[str, Any]) -> PlannedJob:
        """The parent's command with this trial's params, in its own dir and log."""
        trial_id = f"{self.job.id}[trial={number}]"
        output_dir = output_dir_of(self.output_root, trial_id)
        argv = list(self.job.argv)
        for name, flag in self.job.sweep_flags:
            argv = _with_flag(argv, flag, str(params[name]))
        env = {
            **dict(self.job.env),
            "TRAIN_ORCH_OUTPUT_DIR": output_dir,
            "TRAIN_ORCH_JOB_ID": trial_id,
            "TRAIN_ORCH_TRIAL": str(number),
        }
        return replace(
            self.job,
            id=trial_id,
            argv=tuple(_with_flag(argv, _output_flag(self.job), output_dir)),
            env=tuple(env.items()),
            output_dir=output_dir,
            optional=True,
            sweep=None,
            log_path=str(Path(self.job.log_path).with_name(f"{safe_name(trial_id)}.log")),
            tags=(*self.job.tags, f"sweep:{self.job.id}"),
            needs=(),
            needs_outside=(),
            cache=False,
            gates=(),
        )

    def _counted(self) -> int:
        assert self.study is not None
        return sum(
            1
            for t in self.study.get_trials(deepcopy=False)
            if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED)
        )

    def _budget(self) -> int:
        if self.sweep.sampler == "grid":
            return min(self.sweep.n_trials, _grid_size(self.sweep))
        return self.sweep.n_trials

    def _out_of_time(self) -> bool:
        timeout = self.sweep.timeout
        return timeout is not None and time.monotonic() - self.started > timeout

    def _suggest(self, trial: optuna.Trial, param: Any) -> Any:
        if param.kind == "choices":
            return trial.suggest_categorical(param.name, list(param.choices))
        if param.kind == "int":
            return trial.suggest_int(param.name, int(param.low), int(param.high), log=param.log)
        return trial.suggest_float(param.name, param.low, param.high, log=param.log)

    def _sampler(self, optuna: Any) -> Any:
        seed = int(self.sweep.digest[:8] or "0", 16)
        kind = self.sweep.sampler
        if kind == "grid":
            return optuna.samplers.GridSampler(_grid_space(self.sweep), seed=seed)
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


def _grid_space(sweep: Sweep) -> dict[str, list[Any]]:
    return {
        p.name: list(p.choices) if p.kind == "choices" else list(range(int(p.low), int(p.high) + 1))
        for p in sweep.params
    }


def _grid_size(sweep: Sweep) -> int:
    size = 1
    for values in _grid_space(sweep).values():
        size *= len(values)
    return size


def _output_flag(job: PlannedJob) -> str:
    """The flag the parent passes its output dir with (trials need their own dir)."""
    argv = list(job.argv)
    for flag, value in itertools.pairwise(argv):
        if value == job.output_dir and flag.startswith("-"):
            return flag
    return ""


def _with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """`argv` with `flag value`, replacing the flag's value if it is already there."""
    if not flag:
        return argv
    if flag in argv[:-1]:
        index = argv.index(flag)
        return [*argv[: index + 1], value, *argv[index + 2 :]]
    return [*argv, flag, value]
