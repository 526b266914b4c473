"""discover → config → select → plan → execute → report, as plain function calls.

cli.py turns flags into `RunOptions` and calls `main`; tests and other tools can call the
same functions without click.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import config_files, load_configs
from orchestrator.discovery import DEFAULT_ROOTS, discover
from orchestrator.events import Fanout, RunStarted
from orchestrator.execute.scheduler import Scheduler
from orchestrator.jobs import merge, select
from orchestrator.models import JobSpec, Plan, RunOptions
from orchestrator.outcome import exit_code
from orchestrator.plan import build_plan
from orchestrator.report import console
from orchestrator.report.summary import RunInfo, build_summary, write_summary

CONFIG_DIR = "configs"


@dataclass(frozen=True, slots=True)
class Selection:
    jobs: tuple[JobSpec, ...]
    config_files: tuple[str, ...]
    warnings: tuple[str, ...]


def load_selection(options: RunOptions, base: Path) -> Selection:
    """Discover scripts, read the config files, merge them and apply --only/--exclude."""
    roots = options.discover_roots or DEFAULT_ROOTS
    scripts, warnings = discover(roots, base) if options.auto_discover else ((), [])
    config = load_configs(config_files(base / CONFIG_DIR, options.configs, base), base)
    specs = merge(scripts, config, base)
    return Selection(select(specs, options.only, options.exclude), config.files, tuple(warnings))


def make_plan(options: RunOptions, selection: Selection) -> Plan:
    return build_plan(selection.jobs, options, python=sys.executable, cpu_count=os.cpu_count() or 1)


def main(options: RunOptions, base: Path) -> int:
    selection = load_selection(options, base)
    for warning in selection.warnings:
        console.print_warning(warning)
    if options.list_only:
        console.list_jobs(selection.jobs, selection.config_files, options.output_format)
        return 0
    plan = make_plan(options, selection)
    if options.dry_run:
        console.show_plan(plan, options.output_format, options.verbosity > 0)
        return 0
    return run_plan(plan, options, base)


def run_plan(plan: Plan, options: RunOptions, base: Path) -> int:
    Path(plan.log_dir).mkdir(parents=True, exist_ok=True)
    reporter = console.ConsoleReporter(options.verbosity)
    sink = Fanout(reporter)
    started = time.time()
    sink.emit(RunStarted(plan, started))
    outcome = Scheduler(plan, sink).run()
    ended = time.time()
    code = outcome.interrupted_exit or exit_code(
        outcome.results, allow_partial_success=options.allow_partial_success
    )
    info = RunInfo(started, ended, code, outcome.interrupted_by)
    summary = build_summary(outcome.results, options, info, base)
    path = write_summary(summary, Path(plan.summary_dir), started)
    console.final_table(outcome.results, ended - started, code, path)
    return code
