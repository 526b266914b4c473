"""What people see in the terminal, and the same facts as plain lines when it is not one."""

from __future__ import annotations

import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.models import STANDARD_FLAGS, JobResult, JobSpec, Plan, PlannedJob, Status
from orchestrator.plan import declared_flag
from orchestrator.report.logs import tail, tail_lines
from orchestrator.report.streams import LosableStream
from orchestrator.secrets import mask, redact
from orchestrator.studies import example_params, search_space_text, trial_budget

if TYPE_CHECKING:  # decide() is not needed to print a table: --list stays light
    from orchestrator.decide import Decisions
    from orchestrator.events import AttemptStarted, Event, RunFinished, RunStarted, SweepStarted
    from orchestrator.studies import StudyPreview

# What only a run prints with (its events, the live view, durations and metrics) is imported
# where it is used: --list and --dry-run load this module too.

STATUS_STYLE = {
    Status.SUCCEEDED: ("✔", "green"),
    Status.FAILED: ("✘", "red"),
    Status.TIMED_OUT: ("⏱", "red"),
    Status.CANCELLED: ("■", "yellow"),
    Status.SKIPPED: ("·", "dim"),
    Status.GATE_FAILED: ("✘", "red"),
    Status.CACHED: ("↺", "cyan"),
    Status.REUSED: ("↺", "cyan"),
    Status.PRUNED: ("✂", "dim"),
}


def make_console(stream: IO[str] | None = None) -> Console:
    """A console that is plain (no colour, no cursor codes, wide) when not on a terminal."""
    return Console(
        file=stream or sys.stdout,
        highlight=False,
        soft_wrap=False,
        width=None if (stream or sys.stdout).isatty() else 200,
    )


def print_error(error: OrchestratorError) -> None:
    """One short line on stderr (plus the offending config line), never a traceback."""
    console = Console(file=sys.stderr, highlight=False, width=200)
    console.print(f"[bold red]error:[/] {escape(str(error))}")
    if isinstance(error, ConfigError) and error.line is not None:
        excerpt = _excerpt(Path(error.path), error.line, error.column)
        if excerpt:
            console.print(escape(excerpt), style="dim")


def _excerpt(path: Path, line: int, column: int | None) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    if not 0 < line <= len(lines):
        return ""
    width = len(str(line))
    text = f"  {line:>{width}} | {lines[line - 1]}"
    if column:
        text += f"\n  {' ' * width} | {' ' * (column - 1)}^"
    return text


def print_warning(message: str) -> None:
    Console(file=sys.stderr, highlight=False, width=200).print(
        f"[yellow]warning:[/] {escape(message)}"
    )


# ------------------------------------------------------------------------------- --list
def flag_letters(spec: JobSpec) -> str:
    """`O E F S` for the standard flags a script accepts, `.` where it does not."""
    if spec.command is not None:
        return "command"
    return " ".join(
        name[0].upper() if declared_flag(spec, name) else "." for name in STANDARD_FLAGS
    )


def list_jobs(specs: Sequence[JobSpec], config_files: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        import json  # only for this format: a table is what most invocations print

        print(json.dumps({"jobs": [_spec_json(s) for s in specs]}, indent=2))
        return
    console = make_console()
    dirs = Counter(Path(s.script).parts[0] + "/" for s in specs if s.script)
    origins = [f"{d} ({n})" for d, n in sorted(dirs.items())]
    origins += [f"config: {', '.join(config_files)}"] if config_files else []
    console.print(
        f"{len(specs)} job{'s' * (len(specs) != 1)} from {' · '.join(origins)}"
        "    [dim]flags: O=--output-dir E=--epochs F=--folds S=--seed[/]"
    )
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("job", "script", "flags", "tags", "notes"):
        table.add_column(column)
    for spec in specs:
        notes = (spec.error and f"{spec.error}: not run") or ("optional" if spec.optional else "")
        table.add_row(
            escape(spec.id),
            escape(spec.script or shlex.join(spec.command or ())),
            "—" if spec.error else flag_letters(spec),
            escape(" ".join(spec.tags)),
            f"[red]{escape(notes)}[/]" if spec.error else escape(notes),
        )
    console.print(table)


def _spec_json(spec: JobSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "script": spec.script,
        "command": list(spec.command) if spec.command is not None else None,
        "flags": list(spec.flags),
        "standard_flags": {
            n: declared_flag(spec, n) for n in STANDARD_FLAGS if declared_flag(spec, n)
        },
        "tags": list(spec.tags),
        "optional": spec.optional,
        "enabled": spec.enabled,
        "description": spec.description,
        "error": spec.error,
        "origin": list(spec.origin),
    }


# ----------------------------------------------------------------------------- --dry-run
def show_plan(
    plan: Plan,
    decisions: Decisions,
    fmt: str,
    verbose: bool,
    studies: Mapping[str, StudyPreview] | None = None,
) -> None:
    """Each job's command in start order, with what it needs and whether it would run.

    Jobs that would not run have their command commented out, so pasting the whole output
    into a shell runs exactly what the orchestrator would. A sweep shows its study and one
    example trial, commented out too: the sampler picks each trial's values as it goes.
    """
    levels = graph_levels(plan)
    studies = studies or {}
    if fmt == "json":
        import json

        print(json.dumps(_plan_json(plan, decisions, levels, studies), indent=2))
        return
    console = make_console()
    graphed = plan_has_graph(plan)  # once: per job, 10,000 jobs took 10 s
    for job in plan.jobs:
        notes = [f"level {levels[job.id]}"] if graphed else []
        notes += [f"needs {', '.join(job.needs)}"] if job.needs else []
        notes += [f"retries {job.retries}"] if job.retries else []
        notes += ["optional"] if job.optional else []
        suffix = f"  ({' · '.join(notes)})" if notes else ""
        console.print(f"[bold]# {escape(job.id)}[/]{escape(suffix)}")
        for need in job.needs_outside:
            console.print(f"[dim]# uses {escape(need)}'s output as it is on disk (--no-deps)[/]")
        if job.not_runnable:
            console.print(f"[red]# not run: {escape(job.not_runnable)}[/]")
            continue
        action, reason = decision(job.id, decisions)
        if verbose:
            for name, value in shown_env(job).items():
                console.print(f"[dim]#   {escape(name)}={escape(value)}[/]")
        study = studies.get(job.id)
        if action == "run" and study is not None:
            console.print(f"[dim]# runs: {escape(sweep_runs(study))}[/]")
            for line in sweep_preview_lines(job, study):
                console.print(f"[dim]# {escape(line)}[/]", soft_wrap=True)
        elif action == "run":
            console.print(f"[dim]# runs: {escape(reason)}[/]")
            console.print(escape(shown_command(job)), soft_wrap=True)
        else:
            console.print(f"[cyan]# {action}: {escape(reason)}[/]")
            console.print(f"[dim]# {escape(shown_command(job))}[/]", soft_wrap=True)
    counts = Counter(decision(job.id, decisions)[0] for job in plan.jobs if not job.not_runnable)
    what = ", ".join(f"{n} {action}" for action, n in counts.items())
    workers = f"{plan.max_workers} at a time" if plan.max_workers > 1 else "one at a time"
    console.print(
        f"\n{len(plan.jobs)} jobs ({what}), {workers} · logs → {plan.log_dir}/<job>.log · "
        f"summary → {plan.summary_dir}/training_summary_<UTC>.json · [bold]nothing has been run[/]"
    )


def sweep_runs(study: StudyPreview) -> str:
    """Why a sweep runs, in trials: a complete study runs none, and reports its best."""
    if study.left == 0:
        return "no trial: its study is complete (its best is reported again)"
    if study.choice.new_because is None:
        return f"{study.left} more trials of its study"
    return f"{study.left} trials of a new study"


def sweep_preview_lines(job: PlannedJob, study: StudyPreview) -> list[str]:
    """The study, the search space and one example trial's command."""
    assert job.sweep is not None
    sweep = job.sweep
    return [
        study.text(),
        f"search {search_space_text(sweep)} · {sweep.sampler} sampler, {sweep.pruner} "
        f"pruner, {sweep.parallel} at a time",
        f"e.g. trial {study.next_trial}, with the middle of each range (the sampler picks):",
        shown_command(example_trial(job, study)),
    ]


def example_trial(job: PlannedJob, study: StudyPreview) -> PlannedJob:
    from orchestrator.execute.trial_job import trial_job  # only a sweep's --dry-run needs it

    assert job.sweep is not None
    return trial_job(job, study.trials_dir, study.next_trial, example_params(job.sweep))


def decision(job_id: str, decisions: Decisions) -> tuple[str, str]:
    """("run", why) or ("cached"/"reused"/"skipped", why): what a run would do with a job."""
    reused = decisions.reused.get(job_id)
    if reused is None:
        return "run", decisions.why_run.get(job_id, "")
    return reused.status.value, reused.reason


def plan_has_graph(plan: Plan) -> bool:
    return any(job.needs for job in plan.jobs)


def graph_levels(plan: Plan) -> dict[str, int]:
    """0 for jobs that need nothing in the plan, else one more than their deepest need."""
    levels: dict[str, int] = {}
    for job in plan.jobs:  # start order: needs come first
        levels[job.id] = 1 + max((levels[n] for n in job.needs), default=-1)
    return levels


def _plan_json(
    plan: Plan,
    decisions: Decisions,
    levels: Mapping[str, int],
    studies: Mapping[str, StudyPreview],
) -> dict[str, Any]:
    return {
        "output_root": plan.output_root,
        "log_dir": plan.log_dir,
        "summary_dir": plan.summary_dir,
        "max_workers": plan.max_workers,
        "edges": [[need, job.id] for job in plan.jobs for need in job.needs],
        "jobs": [
            {
                "id": job.id,
                "argv": [redact(arg, job.secrets) for arg in job.argv],
                "command": shown_command(job),
                "cwd": job.cwd,
                "env": shown_env(job),
                "output_dir": job.output_dir,
                "log_path": job.log_path,
                "retries": job.retries,
                "optional": job.optional,
                "tags": list(job.tags),
                "needs": list(job.needs),
                "needs_outside_run": list(job.needs_outside),
                "level": levels[job.id],
                "decision": dict(
                    zip(("action", "reason"), decision(job.id, decisions), strict=True)
                ),
                "not_runnable": job.not_runnable,
                **({"study": _study_json(job, studies[job.id])} if job.id in studies else {}),
            }
            for job in plan.jobs
        ],
    }


def _study_json(job: PlannedJob, study: StudyPreview) -> dict[str, Any]:
    assert job.sweep is not None
    example = example_trial(job, study)
    return {
        "name": study.choice.name,
        "new": study.choice.new_because is not None,
        "new_because": study.choice.new_because,
        "earlier": study.choice.earlier,
        "done": study.done,
        "left": study.left,
        "trials_dir": study.trials_dir,
        "search_space": search_space_text(job.sweep),
        "store_note": study.store_note,
        "example_trial": {
            "id": example.id,
            "argv": [redact(arg, job.secrets) for arg in example.argv],
            "command": shown_command(example),
        },
    }


def shown_command(job: PlannedJob) -> str:
    """The job's command as a shell would take it, with secret values masked."""
    return redact(shlex.join(job.argv), job.secrets)


def shown_env(job: PlannedJob) -> dict[str, str]:
    return {name: redact(mask(name, value), job.secrets) for name, value in job.env}


# ------------------------------------------------------------------------------ a run
def headline(result: JobResult) -> str:
    from orchestrator.report.summary import metric_text, ranked_metrics

    metrics = dict(result.metrics)
    if not result.status.ok:
        text = result.reason or result.status.value
        return f"{text} (optional)" if result.job.optional else text
    ranked = ranked_metrics(metrics, result.job.headline)
    text = " ".join(f"{name} {metric_text(value)}" for name, value in ranked[:1])
    if result.status is Status.SUCCEEDED and result.reason:  # a note on its metrics.json
        text += f" ⚠ {result.reason}"
    return text


class ConsoleReporter:
    """Progress as it happens: a live view on a terminal, one plain line per event elsewhere.

    On GitHub Actions a failing job's log tail goes into a collapsed group and an `::error`
    annotation names the job, so the failure is on the run's front page.
    """

    def __init__(self, verbosity: int, *, github: bool = False) -> None:
        self.console = make_console()
        self.verbosity = verbosity
        self.github = github
        self.plain = not self.console.is_terminal
        self.live: LiveView | None = None
        #: When each sweep opened its study: its line shows the time since then.
        self.sweeps_started: dict[str, float] = {}

    def emit(self, event: Event) -> None:
        from orchestrator.events import (
            AttemptEnded,
            AttemptStarted,
            Halted,
            JobFinished,
            RunFinished,
            RunStarted,
            SweepStarted,
        )

        if isinstance(event, RunFinished):
            self._close()
            final_table(self.console, event)
            _say_if_stdout_was_lost(event)
            return
        if self.verbosity < 0:
            return
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, AttemptStarted):
            self._started(event)
        elif isinstance(event, AttemptEnded) and event.retry_in is not None:
            attempt = event.attempt
            self._line(
                time.time(),
                f"[yellow]retry[/]  {escape(event.job.id)} attempt "
                f"{attempt.number}/{event.of} {attempt.status.value}; "
                f"next in {event.retry_in:.1f}s",
            )
        elif isinstance(event, SweepStarted):
            self._sweep_started(event)
        elif isinstance(event, JobFinished):
            self._finished(event.result)
        elif isinstance(event, Halted):
            self._line(event.at, f"[bold yellow]stopping[/]: {escape(event.why)}")

    def _run_started(self, event: RunStarted) -> None:
        plan = event.plan
        count = sum(job.sweep is None for job in plan.jobs)
        sweeps = [job.sweep for job in plan.jobs if job.sweep is not None]
        trials = sum(trial_budget(sweep) for sweep in sweeps)
        what = [f"{count} job{'s' * (count != 1)}"] if count or not sweeps else []
        if sweeps:
            what.append(f"{len(sweeps)} sweep{'s' * (len(sweeps) != 1)} of up to {trials} trials")
        self._line(
            event.at,
            f"running {' and '.join(what)}, {plan.max_workers} at a time on {plan.cpus} cpus",
        )
        if not self.plain:
            self.live = LiveView(self.console, plan, event.at)
            self.live.start()

    def _started(self, event: AttemptStarted) -> None:
        if self.live is not None:
            self.live.started(event)
        if self.plain or self.verbosity > 0:
            tries = f" (attempt {event.number}/{event.of})" if event.of > 1 else ""
            self._line(event.at, f"start  {escape(event.job.id)}{tries}")
        if self.verbosity > 0:
            self.console.print(f"       [dim]{escape(shown_command(event.job))}[/]")
            for name, value in shown_env(event.job).items():
                self.console.print(f"       [dim]{escape(name)}={escape(value)}[/]")

    def _sweep_started(self, event: SweepStarted) -> None:
        self.sweeps_started[event.job.id] = event.at
        if self.live is not None:
            self.live.sweep_started(event)
        self._line(event.at, escape(sweep_started_text(event)))

    def _finished(self, result: JobResult) -> None:
        from orchestrator.report.summary import duration_text

        if self.live is not None:
            self.live.finished(result)
        mark, style = STATUS_STYLE[result.status]
        took = duration_text(self._took(result))
        failed = not result.status.ok
        log = f" · {result.job.log_path}" if failed else ""
        if self.plain:
            self._line(
                time.time(),
                f"done   {escape(result.job.id)} {result.status.value} {took} "
                f"{escape(headline(result))}{escape(log)}",
            )
        else:
            self.console.print(
                f"[{style}]{mark}[/] {escape(result.job.id):<24} {took:>7}  "
                f"{escape(headline(result))}{escape(log)}"
            )
        if self.github and failed and result.status is not Status.SKIPPED:
            github_log_tail(result)

    def _took(self, result: JobResult) -> float:
        """A job's attempts; a sweep, which runs no process itself, the time since it began."""
        began = self.sweeps_started.get(result.job.id)
        if result.job.sweep is not None and began is not None:
            return time.time() - began
        return sum(a.duration for a in result.attempts)

    def _line(self, at: float, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime(at)) if self.plain else ""
        self.console.print(f"{stamp}{text}")

    def _close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def sweep_started_text(event: SweepStarted) -> str:
    """`sweep  quad: new study quad-1a2b3c4d5e (script changed; earlier quad-…) · 10 to run`."""
    if event.new_because is None:
        what = f"resuming study {event.study} ({event.done} trials done)"
    else:
        earlier = f"; earlier {event.earlier}" if event.earlier else ""
        what = f"new study {event.study} ({event.new_because}{earlier})"
    return f"sweep  {event.job.id}: {what} · {event.left} to run"


def running_name(job: PlannedJob) -> str:
    """`lightgbm_sweep #3` for a sweep trial, else the job's id."""
    trial = dict(job.env).get("TRAIN_ORCH_TRIAL")
    parents = [tag.removeprefix("sweep:") for tag in job.tags if tag.startswith("sweep:")]
    return f"{parents[-1]} #{trial}" if trial is not None and parents else job.id


def _say_if_stdout_was_lost(event: RunFinished) -> None:
    """The table went nowhere (`| head -1`): stderr, if it still works, says how it ended.

    Only a run says so: `--list | head -1` stopping early is what the user asked for.
    """
    stdout = sys.stdout
    if isinstance(stdout, LosableStream) and stdout.loss is not None:
        where = f" · summary: {event.summary_path}" if event.summary_path else ""
        print_warning(
            f"stdout was lost ({stdout.loss.strerror}); the run went on: "
            f"exit {event.exit_code}{where}"
        )


class LiveView:
    """Overall progress with counts and ETA, and one line per running job with its last
    log line, redrawn a few times a second below the lines of finished jobs.

    It counts what will really run: a sweep is its trials (its budget until its study
    says how many are left), not one job.
    """

    def __init__(self, console: Console, plan: Plan, started_at: float) -> None:
        self.plan = plan
        self.started_at = started_at
        self.running: dict[str, tuple[PlannedJob, float]] = {}
        self.done: list[JobResult] = []
        self.jobs = sum(job.sweep is None for job in plan.jobs)
        #: Per sweep: the trials it is expected to run in this run.
        self.trials_expected = {
            job.id: trial_budget(job.sweep) for job in plan.jobs if job.sweep is not None
        }
        self.trials_done: Counter[str] = Counter()
        from rich.live import Live

        self._live = Live(
            console=console, refresh_per_second=4, transient=True, get_renderable=self._render
        )

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def started(self, event: AttemptStarted) -> None:
        self.running[event.job.id] = (event.job, event.at)

    def sweep_started(self, event: SweepStarted) -> None:
        self.trials_expected[event.job.id] = event.left

    def finished(self, result: JobResult) -> None:
        self.running.pop(result.job.id, None)
        if result.job.sweep is not None:  # its trials were counted; no more will come
            self.trials_expected[result.job.id] = self.trials_done[result.job.id]
            return
        parents = [t.removeprefix("sweep:") for t in result.job.tags if t.startswith("sweep:")]
        if parents:
            self.trials_done[parents[-1]] += 1
        self.done.append(result)

    @property
    def total(self) -> int:
        return self.jobs + sum(self.trials_expected.values())

    def _render(self) -> RenderableType:
        from rich.columns import Columns
        from rich.progress_bar import ProgressBar

        total = self.total
        failed = sum(not r.status.ok and r.status is not Status.PRUNED for r in self.done)
        elapsed = time.time() - self.started_at
        bar = ProgressBar(total=total, completed=len(self.done), width=40)
        status = Text(f" {len(self.done)}/{total}")
        if failed:
            status.append(f" · {failed} failed", style="red")
        status.append(f" · {_clock(elapsed)} elapsed")
        eta = self._eta()
        if eta is not None:
            status.append(f" · ~{_clock(eta)} left")
        rows = Table.grid(padding=(0, 2))
        for job, since in self.running.values():
            line = redact(last_line(Path(job.log_path)), job.secrets)
            rows.add_row(
                Text(f"  {running_name(job)}"),  # Text: an id like `a[trial=3]` is not markup
                _clock(time.time() - since),
                Text(line, style="dim", overflow="ellipsis", no_wrap=True),
            )
        return Group(Columns([bar, status]), rows)

    def _eta(self) -> float | None:
        if not self.done:
            return None
        per_job = sum(sum(a.duration for a in r.attempts) for r in self.done) / len(self.done)
        remaining = max(0, self.total - len(self.done))
        return remaining * per_job / self.plan.max_workers


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def last_line(path: Path, window: int = 2048) -> str:
    """The job's last output line, reading only the log's tail (logs can be gigabytes).

    Our own attempt header is passed over: it says nothing the live line does not.
    """
    lines = tail(path, window).splitlines()
    ours = ("=== ",)
    return next((ln for ln in reversed(lines) if ln.strip() and not ln.startswith(ours)), "")


def github_log_tail(result: JobResult, lines: int = 50) -> None:
    """A failing job's log tail in a collapsed group of the GitHub Actions log.

    The tail is the child's own output, so workflow commands are switched off around it
    (`::stop-commands::`): a line like `::add-mask::` or `::error::` in a log must not act.
    """
    import secrets  # only a run on GitHub that has a failure needs it

    job = result.job
    token = secrets.token_hex(8)
    print(f"::group::{job.id}: last {lines} log lines ({job.log_path})")
    print(f"::stop-commands::{token}")
    print("\n".join(tail_lines(Path(job.log_path), lines)))
    print(f"::{token}::")
    print("::endgroup::", flush=True)


#: GitHub shows at most this many annotations of one type per step.
ANNOTATION_LIMIT = 10


def github_annotations(summary: Mapping[str, Any]) -> None:
    """`::error` for required jobs that did not succeed, `::warning` for optional ones (and
    for failed gates that `--gates report` only reports).

    Past GitHub's limit per type the rest are folded into one last annotation, so none is
    silently dropped.
    """
    problems = [j for j in summary["jobs"] if j["status"] not in {"succeeded", "skipped"}]
    reported_only = summary["options"].get("gates") == "report"

    def is_warning(job: Mapping[str, Any]) -> bool:
        return bool(job["optional"]) or (reported_only and job["status"] == "gate_failed")

    for level, warning in (("error", False), ("warning", True)):
        jobs = [j for j in problems if is_warning(j) is warning]
        shown = jobs if len(jobs) <= ANNOTATION_LIMIT else jobs[: ANNOTATION_LIMIT - 1]
        for job in shown:
            message = f"{job['id']} {job['status']}: {job['reason'] or ''} (log: {job['log_path']})"
            print(f"::{level} title={_escape_property(job['id'])}::{_escape_data(message)}")
        rest = jobs[len(shown) :]
        if rest:
            names = ", ".join(j["id"] for j in rest)
            print(f"::{level} title={len(rest)} more jobs::{_escape_data(names)}")
    sys.stdout.flush()


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def sweep_trials(results: Sequence[JobResult]) -> dict[str, list[JobResult]]:
    trials: dict[str, list[JobResult]] = {}
    for result in results:
        for tag in result.job.tags:
            if tag.startswith("sweep:"):
                trials.setdefault(tag.removeprefix("sweep:"), []).append(result)
    return trials


#: Past this many jobs the final table keeps every job that did not succeed and only the
#: first successes: a 2,000-job run should end on something readable, not a scroll.
FINAL_TABLE_ROWS = 40


def final_table(console: Console, event: RunFinished) -> None:
    from orchestrator.report.summary import duration_text

    results, exit_code = event.results, event.exit_code
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column, justify in (
        ("job", "left"),
        ("status", "left"),
        ("tries", "right"),
        ("time", "right"),
        ("headline", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    trials = sweep_trials(results)
    from orchestrator.run_summary import is_trial  # not needed by --list

    shown = [r for r in results if not is_trial(r.job.tags)]
    for result in _rows_worth_showing(shown):
        _, style = STATUS_STYLE[result.status]
        runs = trials.get(result.job.id, [result])
        note = f" · {len(runs)} trials" if result.job.id in trials else ""
        table.add_row(
            escape(result.job.id),
            f"[{style}]{result.status.value}[/]",
            str(sum(len(r.attempts) for r in runs)),
            duration_text(sum(a.duration for r in runs for a in r.attempts)),
            escape(headline(result) + note),
        )
    console.print()
    console.print(table)
    hidden = len(shown) - table.row_count
    if hidden:
        console.print(f"[dim]… and {hidden} more successful jobs (every job is in the summary)[/]")
    counts: dict[str, int] = {}
    for result in shown:
        key = result.status.value.replace("_", " ")
        if result.job.optional and not result.status.ok:
            key = f"optional {key}"
        counts[key] = counts.get(key, 0) + 1
    verdict = " · ".join(f"{n} {k}" for k, n in counts.items())
    style = "green" if exit_code == 0 else "red"
    duration = duration_text(event.at - event.started_at)
    console.print(f"\n{verdict} · {duration} · [{style}]exit {exit_code}[/]")
    if event.summary_path is not None:
        console.print(f"summary: {event.summary_path}")


def _rows_worth_showing(results: Sequence[JobResult]) -> list[JobResult]:
    """Every job that did not succeed, and successes while there is room, in plan order."""
    if len(results) <= FINAL_TABLE_ROWS:
        return list(results)
    room = FINAL_TABLE_ROWS - sum(not r.status.ok for r in results)
    rows = []
    for result in results:
        if not result.status.ok:
            rows.append(result)
        elif room > 0:
            rows.append(result)
            room -= 1
    return rows
