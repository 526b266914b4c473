"""Helpers shared by the benchmarks that ``bench/run.py`` drives.

``bench/overhead.py`` and ``bench/ray_overhead.py`` are stand-alone scripts and keep their
own copies of these ideas; nothing here is imported by them.

The method every benchmark follows: each *variant* (one way of doing the same work) is run
once per *round*, rounds are interleaved (every variant once, then again) and the order of
the variants rotates from round to round, so slow drift on this small, shared machine hits
all variants alike. Figures are then computed *per round* against a baseline timed in that
same round, and summarised as median and min-max over the rounds.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import importlib.util
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
ENTRY_POINT = REPO_ROOT / "run_all_training.py"
RESULTS_DIR = BENCH_DIR / "results"
#: What an orchestrator run leaves in its project; set aside before every timed run so each
#: starts alike (``summaries/latest.json`` changes the start order, ``.train_orch/`` holds
#: the skip-unchanged state that would report jobs as ``cached``).
RUN_OUTPUTS = ("results", "logs", "summaries", ".train_orch")
TIMEOUT_S = 600.0
TAIL_LINES = 12
HEAVY_MODULES = ("sklearn", "xgboost", "lightgbm", "optuna", "ray")

#: One timed execution: returns a problem description, or None when all went as expected.
Runner = Callable[[], "str | None"]


# --------------------------------------------------------------------------- environment


#: Set in every timed command's environment (``run.py --env``), before a benchmark's own.
ORCH_ENV: dict[str, str] = {}


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without ``TRAIN_ORCH_*`` settings (they change what runs), then
    ``ORCH_ENV`` and ``extra``.

    Nor ``PYTHONDONTWRITEBYTECODE``: under it every run compiles each of the package's
    modules anew (about 0.4 ms apiece here), a start-up an installed copy never pays, and
    a change that adds modules looks slower per job by that much over N jobs.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRAIN_ORCH_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(ORCH_ENV)
    env.update(extra or {})
    return env


def orch_argv(*flags: str) -> list[str]:
    """The orchestrator's command line, run from the checkout with this interpreter."""
    return [sys.executable, str(ENTRY_POINT), *flags]


def shown(argv: Sequence[str], cwd: Path | str | None = None) -> str:
    """A copy-pasteable rendering of a command (and the directory it runs in).

    Temp dirs are shown as ``<placeholders>`` (``<project>``, ...): they are gone after the
    run; each benchmark's docstring says what they held.
    """
    text = " ".join(quote(str(arg)) for arg in argv)
    return f"cd {quote(str(cwd))} && {text}" if cwd else text


def quote(arg: str) -> str:
    """Shell-quote, except ``<placeholders>`` for what only existed during the run."""
    return arg if arg.startswith("<") and arg.endswith(">") else shlex.quote(arg)


@functools.cache
def gnu_parallel() -> str | None:
    """The path of GNU parallel, or None (moreutils ships a different ``parallel``)."""
    path = shutil.which("parallel")
    if not path:
        return None
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU parallel" in out else None


@functools.cache
def snakemake_argv() -> tuple[str, ...] | None:
    """How to start Snakemake with this interpreter (no pyenv shim in the timing), or None."""
    if importlib.util.find_spec("snakemake") is None:
        return None
    return (sys.executable, "-m", "snakemake")


@functools.cache
def tool_versions() -> dict[str, str | None]:
    """Versions of the comparison tools, for the record ("absent" tools are None)."""
    versions: dict[str, str | None] = {"gnu_parallel": None, "snakemake": None}
    par = gnu_parallel()
    if par:
        out = subprocess.run([par, "--version"], capture_output=True, text=True, check=False)
        versions["gnu_parallel"] = out.stdout.splitlines()[0] if out.stdout else par
    smk = snakemake_argv()
    if smk:
        out = subprocess.run([*smk, "--version"], capture_output=True, text=True, check=False)
        versions["snakemake"] = out.stdout.strip().splitlines()[-1] if out.stdout else None
    return versions


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_full": sys.version,
        "python_executable": sys.executable,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg": list(os.getloadavg()),
        "tools": tool_versions(),
    }


# --------------------------------------------------------------------------- projects


def write_jobs(project: Path, jobs: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``configs/jobs.yaml``: block-style job keys, JSON (= YAML flow) values."""
    configs = project / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    lines = ["jobs:"]
    for job_id, fields in jobs.items():
        lines.append(f"  {job_id}:")
        lines += [f"    {key}: {json.dumps(value)}" for key, value in fields.items()]
    (configs / "jobs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def noop_jobs(job_cmd: Sequence[str], n_jobs: int) -> dict[str, dict[str, Any]]:
    """``n_jobs`` identical command jobs ``noop000``, ``noop001``, ..."""
    return {f"noop{index:03d}": {"command": list(job_cmd)} for index in range(n_jobs)}


def clean_outputs(project: Path) -> None:
    """Set aside what a previous orchestrator run left, so every run starts the same way."""
    for name in RUN_OUTPUTS:
        set_aside(project / name)


def set_aside(path: Path) -> None:
    """Move ``path`` out of the way into a trash dir that is deleted when the bench exits.

    Not deleted now, because that would time the file system rather than the tool. ext4
    without a journal (this machine's root file system) will not reuse an inode freed
    within the last minute. It reads the inode-table block of each such inode as it passes
    it, so every file created after an ``rm -rf`` of N files pays a scan of those N. perf
    showed the orchestrator's stager spending ~0.7 ms a job there when each round deleted
    the last round's outputs first. A fresh output root, or one reused as it is, pays
    nothing of the kind.
    """
    if not path.exists():
        return
    try:
        path.rename(_trash() / uuid.uuid4().hex)
    except OSError:  # on another file system: a rename cannot move it
        shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _trash() -> Path:
    trash = Path(tempfile.mkdtemp(prefix="bench-trash-"))
    atexit.register(shutil.rmtree, trash, ignore_errors=True)
    return trash


# --------------------------------------------------------------------------- running


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_quiet(
    argv: Sequence[str],
    cwd: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[int, str, str | None]:
    """Run to the end; return exit code, stdout+stderr and a problem (non-zero, timeout)."""
    try:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else bench_env(),
            input=stdin_text,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return -1, out, f"timed out after {timeout:.0f}s: {shown(argv, cwd)}\n{tail(out)}"
    except OSError as exc:
        return -1, "", f"cannot start {shown(argv, cwd)}: {exc}"
    problem = None
    if result.returncode != 0:
        problem = f"exit code {result.returncode}: {shown(argv, cwd)}\n{tail(result.stdout)}"
    return result.returncode, result.stdout, problem


def run_ok(argv: Sequence[str], cwd: Path | None = None) -> str | None:
    """Run once; None when it exited 0, else the problem."""
    return run_quiet(argv, cwd)[2]


def read_summary(project: Path) -> tuple[dict[str, Any] | None, str | None]:
    latest = project / "summaries" / "latest.json"
    try:
        return json.loads(latest.read_text(encoding="utf-8")), None
    except (OSError, ValueError) as exc:
        return None, f"cannot read {latest}: {exc}"


def check_summary(project: Path, n_jobs: int) -> str | None:
    """None when ``summaries/latest.json`` says exit 0 and exactly N succeeded jobs."""
    summary, problem = read_summary(project)
    if summary is None:
        return problem
    counts = summary.get("counts")
    if summary.get("exit_code") != 0 or counts != {"succeeded": n_jobs}:
        return f"summary exit_code={summary.get('exit_code')} counts={counts}"
    return None


def orchestrate(
    argv: Sequence[str],
    project: Path,
    n_jobs: int,
    *,
    dry: bool = False,
    in_run: list[float] | None = None,
) -> str | None:
    """One orchestrator run in a cleaned ``project``, checked: exit 0 and all N jobs done.

    A dry run (``--format json``) must plan all N jobs; a real one must leave a summary
    with N succeeded jobs. ``in_run`` gets the summary's ``duration_s`` (the scheduling of
    the jobs, without start-up and reporting), NaN when there is none.
    """
    clean_outputs(project)
    _, output, problem = run_quiet(argv, project)
    if in_run is not None:
        summary, _ = read_summary(project)
        in_run.append(float(summary["duration_s"]) if summary else math.nan)
    if problem:
        return problem
    if dry:
        try:
            planned = len(json.loads(output)["jobs"])
        except (ValueError, KeyError, TypeError):
            return f"dry run printed no JSON plan: {tail(output)}"
        return None if planned == n_jobs else f"dry run planned {planned} of {n_jobs} jobs"
    return check_summary(project, n_jobs)


# --------------------------------------------------------------------------- measuring


@dataclass
class Variant:
    """One way of doing the benchmark's work; ``run`` does it once."""

    name: str
    command: str
    run: Runner
    #: Untimed, before each run: e.g. deleting what the last run left (deleting 600 logs
    #: and dirs costs about what creating them does, and is not the run's work).
    prepare: Callable[[], None] | None = None
    times_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def measure(variants: Sequence[Variant], rounds: int, label: str, *, rotate: bool = True) -> None:
    """Time every variant once per round, ``rounds`` rounds, interleaved and rotated.

    Round r starts with variant r (mod the count), so no variant always follows the same
    neighbour (``rotate=False``: always in the given order, for variants that use what an
    earlier one left). A run that reports a problem keeps its time (so the rounds stay
    aligned) and the problem is recorded and printed.
    """
    count = len(variants)
    for round_no in range(rounds):
        shift = round_no if rotate else 0
        order = [variants[(shift + i) % count] for i in range(count)]
        cells = []
        for variant in order:
            if variant.prepare is not None:
                variant.prepare()
            started = time.perf_counter()
            problem = variant.run()
            elapsed = time.perf_counter() - started
            variant.times_s.append(elapsed)
            cells.append(f"{variant.name} {elapsed:.2f}s" + ("" if problem is None else " !"))
            if problem is not None:
                variant.problems.append(f"round {round_no + 1}: {problem}")
                print(f"  [{label}] PROBLEM {variant.name}: {problem}", file=sys.stderr)
        print(
            f"  [{label}] round {round_no + 1}/{rounds}: " + ", ".join(cells),
            file=sys.stderr,
            flush=True,
        )


def spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def derive(formula: str, unit: str, per_round: Sequence[float], **extra: Any) -> dict[str, Any]:
    """A derived figure: its formula, per-round values and their median, min and max."""
    return {
        "formula": formula,
        "unit": unit,
        "per_round": list(per_round),
        **spread(per_round),
        **extra,
    }


def per_round(
    variants: Mapping[str, Variant], names: Sequence[str], compute: Callable[..., float]
) -> list[float]:
    """``compute(t_a, t_b, ...)`` for every round, with the named variants' times."""
    columns = [variants[name].times_s for name in names]
    return [compute(*values) for values in zip(*columns, strict=True)]


def variants_record(variants: Sequence[Variant]) -> dict[str, Any]:
    return {
        v.name: {
            "command": v.command,
            "times_s": v.times_s,
            **{f"{k}_s": x for k, x in spread(v.times_s).items()},
            "problems": v.problems,
        }
        for v in variants
    }


def all_problems(variants: Sequence[Variant]) -> list[str]:
    return [f"{v.name}: {p}" for v in variants for p in v.problems]


# --------------------------------------------------------------------------- output


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_range(row: Mapping[str, Any], digits: int = 2) -> str:
    return f"{fmt(row['min'], digits)}..{fmt(row['max'], digits)}"


def variants_table(variants: Sequence[Variant], title: str) -> dict[str, Any]:
    """Per-variant wall times (median, min-max) as a table."""
    rows = [
        [
            v.name,
            fmt(spread(v.times_s)["median"], 3),
            fmt_range(spread(v.times_s), 3),
            "PROBLEM" if v.problems else "ok",
        ]
        for v in variants
    ]
    return {"title": title, "headers": ["variant", "median s", "min..max s", "check"], "rows": rows}


def derived_table(derived: Mapping[str, Mapping[str, Any]], title: str) -> dict[str, Any]:
    """Derived figures (median, min-max) as a table."""
    rows = []
    for label, row in derived.items():
        digits = 3 if row["unit"] in {"x", "eff"} else 2
        rows.append([label, row["unit"], fmt(row["median"], digits), fmt_range(row, digits)])
    return {"title": title, "headers": ["figure", "unit", "median", "min..max"], "rows": rows}


NUMERIC = re.compile(r"^[-+]?[\d.]+(\.\.[-+]?[\d.]+)?$|^-$")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """An aligned text table: numbers (and ``min-max`` ranges) right-aligned, text left."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [
        i > 0 and all(NUMERIC.match(row[i]) for row in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if numeric[i] else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return indent + "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def summary_row(
    figure: str,
    row: Mapping[str, Any],
    *,
    target: str = "",
    ok: bool | None = None,
) -> dict[str, Any]:
    """A line of the final summary table: a figure's median and range, and its verdict."""
    return {
        "figure": figure,
        "unit": row.get("unit", ""),
        "median": row.get("median"),
        "min": row.get("min"),
        "max": row.get("max"),
        "target": target,
        "ok": ok,
    }
