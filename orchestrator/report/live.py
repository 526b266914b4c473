"""A run as it happens: a live view on a terminal, one plain line per event elsewhere;
the table it ends on is final_table.py's.

Only a run loads this module; `--list` and `--dry-run` print through listing.py without it.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.events import (
    AttemptEnded,
    AttemptStarted,
    Halted,
    JobFinished,
    RunFinished,
    RunStarted,
    SweepStarted,
    UsageRead,
)
from orchestrator.models import Attempt, JobResult, Plan, PlannedJob, Status
from orchestrator.report.console import STATUS_STYLE, make_console, print_warning
from orchestrator.report.final_table import final_table, headline, usage_cells
from orchestrator.report.github import github_log_tail
from orchestrator.report.listing import shown_command, shown_env
from orchestrator.report.logs import tail
from orchestrator.report.streams import LosableStream
from orchestrator.report.summary import duration_text
from orchestrator.report.usage_now import UsageNow
from orchestrator.secrets import redact
from orchestrator.studies import trial_budget
from orchestrator.usage import format_bytes

if TYPE_CHECKING:
    from orchestrator.events import Event

#: Seconds between read-outs of what the running jobs use, while a live view shows them.
USAGE_EVERY = 1.0


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
        #: Whether a finished job's line has had figures: the lines after it keep room.
        self.measured = False

    @property
    def usage_every(self) -> float | None:
        """How often the run should tell what its running jobs use (`UsageRead`): only a
        live view shows it, so a plain or quiet run (or TERM=dumb, which rich draws no
        live view on) reads nothing."""
        if self.plain or self.verbosity < 0 or self.console.is_dumb_terminal:
            return None
        return USAGE_EVERY

    def emit(self, event: Event) -> None:
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
                f"{attempt.number}/{event.of} {attempt.status.value}{_outside(attempt)}; "
                f"next in {event.retry_in:.1f}s",
            )
        elif isinstance(event, SweepStarted):
            self._sweep_started(event)
        elif isinstance(event, JobFinished):
            self._finished(event.result)
        elif isinstance(event, UsageRead) and self.live is not None:
            self.live.usage.read(event)
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
        on = [f"{plan.cpus} cpus"]
        if plan.memory is not None and any(job.memory for job in plan.jobs):
            on.append(format_bytes(plan.memory))
        if plan.gpu_devices:
            on.append(f"GPUs {','.join(plan.gpu_devices)}")
        self._line(
            event.at,
            f"running {' and '.join(what)}, {plan.max_workers} at a time on {', '.join(on)}",
        )
        if not self.plain:
            self.live = LiveView(self.console, plan, event.at)
            self.live.start()

    def _started(self, event: AttemptStarted) -> None:
        if self.live is not None:
            self.live.started(event)
        if self.plain or self.verbosity > 0:
            tries = f" (attempt {event.number}/{event.of})" if event.of > 1 else ""
            devices = event.job.gpu_devices
            on = f" on GPU{'s' * (len(devices) > 1)} {','.join(devices)}" if devices else ""
            self._line(event.at, f"start  {escape(event.job.id)}{tries}{escape(on)}")
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
        if self.live is not None:
            self.live.finished(result)
        mark, style = STATUS_STYLE[result.status]
        took = duration_text(self._took(result))
        failed = not result.status.ok
        # No attempt, no log of this run: what the path holds is an earlier run's.
        logged = failed and bool(result.attempts)
        log = f" · {result.job.log_path}" if logged else ""
        memory, cpu = usage_cells(result.attempts)
        self.measured = self.measured or bool(memory or cpu)
        if self.plain:
            used = ", ".join(f for f in (memory and f"peak {memory}", cpu and f"cpu {cpu}") if f)
            self._line(
                time.time(),
                f"done   {escape(result.job.id)} {result.status.value} {took} "
                f"{f'({used}) ' if used else ''}{escape(headline(result))}{escape(log)}",
            )
        else:
            used = f"{memory:>8} {cpu:>5}  " if self.measured else ""
            self.console.print(
                f"[{style}]{mark}[/] {escape(result.job.id):<24} {took:>7}  {used}"
                f"{escape(headline(result))}{escape(log)}"
            )
        if self.github and logged:
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


def _outside(attempt: Attempt) -> str:
    """` (node_lost on node 3f2a9c0e81d4)`: what ended the attempt from outside the job
    (a lost Ray node, a program that cannot start), and where, if it ran on a node."""
    if attempt.error is None:
        return ""
    where = f" on node {attempt.node}" if attempt.node else ""
    return f" ({escape(attempt.error)}{where})"


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
        stdout.loss_reported = True
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
        #: What the running jobs use now, as the run last told (its `UsageRead` events).
        self.usage = UsageNow()
        from rich.live import Live  # only a terminal gets one: plain runs never load it

        self._live = Live(
            console=console, refresh_per_second=4, transient=True, get_renderable=self._render
        )

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def started(self, event: AttemptStarted) -> None:
        self.running[event.job.id] = (event.job, event.at)
        self.usage.forget(event.job.id)  # a retry's figures start again from nothing

    def sweep_started(self, event: SweepStarted) -> None:
        self.trials_expected[event.job.id] = event.left

    def finished(self, result: JobResult) -> None:
        self.running.pop(result.job.id, None)
        self.usage.forget(result.job.id)
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
        measured = bool(self.usage)
        for job, since in self.running.values():
            line = redact(last_line(Path(job.log_path)), job.secrets)
            rows.add_row(
                Text(f"  {running_name(job)}"),  # Text: an id like `a[trial=3]` is not markup
                _clock(time.time() - since),
                *(Text(cell, justify="right") for cell in self.usage.cells(job.id) if measured),
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
