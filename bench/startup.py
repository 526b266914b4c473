"""Benchmark ``startup``: how much the orchestrator's light commands cost, above bare Python.

Run in the repository itself (cwd = the checkout, its real ``configs/`` and ``training/``):

* ``python -c pass``                               the interpreter alone;
* ``python -c "import click, yaml, rich.console"`` plus the libraries the CLI cannot do
  without;
* ``run_all_training.py --help``, ``--list`` and ``--dry-run``.

Counted in instructions, once each under ``valgrind --tool=callgrind``: the count is the
same from run to run (wall time on this shared machine moved 2-3x between sittings), so
it shows what a change did. ``<command> - python -c pass`` and ``<command> - import
click, yaml, rich.console`` (the command's own part), in millions. Counted in a copy of the
bundled project (``configs/``, ``training/``), in two states. Cached: the byte code of every
module cached (in a ``PYTHONPYCACHEPREFIX`` of its own, filled by one run of each first),
as an installed package or a checkout after its first run loads them, and the scripts'
facts kept in ``.train_orch/``, as after a run (one that runs no job fills it). Target:
``--list``'s own part at most 200 M. Compiled: a fresh checkout under
``PYTHONDONTWRITEBYTECODE``, the checkout's own modules compiled on every run and no
``.train_orch/``, so every script is parsed. ``PYTHONHASHSEED=0``, so string hashing takes
the same path every time. Without valgrind these figures are skipped, with a note.

Timed too, interleaved over rounds (10; ``--quick``: 3): the same figures in ms. Target:
``--list`` under 150 ms above bare Python.

Then, untimed, each of the three commands once more under ``python -X importtime``: the
modules it imported are checked for sklearn, xgboost, lightgbm, optuna and ray (none may
appear on these paths), and the slowest top-level imports of ``--list`` are recorded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "startup"
TITLE = "start-up of --help, --list and --dry-run above bare Python"
LIST_TARGET_MS = 150.0
COMMANDS = {"--help": ("--help",), "--list": ("--list",), "--dry-run": ("--dry-run",)}
LIBS = "import click, yaml, rich.console"
BASELINES = {"python -c pass": "pass", LIBS: LIBS}
#: The most instructions ``--list`` may take above ``import click, yaml, rich.console``.
LIST_TARGET_MI = 200.0
COLLECTED = re.compile(r"Collected : (\d+)")
#: Byte code and scripts' facts cached; or the checkout's own modules compiled on each
#: run, and every script parsed.
CACHE_STATES = ("cached", "compiled")
#: What the counted commands read of the bundled project.
PROJECT_PARTS = ("configs", "training")
#: Where a run leaves its state, the scripts' facts among it.
STATE_DIR = ".train_orch"
#: A run of no job: it keeps the scripts' facts, as any run does (--list only reads them).
KEEPING_RUN = c.orch_argv("--exclude", "*", "--allow-empty", "--quiet")
INFORMATIONAL = ("numpy", "scipy", "pandas", "joblib", "rich", "jsonschema")


def import_times(flags: tuple[str, ...]) -> dict[str, Any]:
    """Run once under ``-X importtime``; what was imported, and the slowest top-level ones."""
    argv = [sys.executable, "-X", "importtime", str(c.ENTRY_POINT), *flags]
    proc = subprocess.run(
        argv,
        cwd=c.REPO_ROOT,
        env=c.bench_env(),
        capture_output=True,
        text=True,
        timeout=c.TIMEOUT_S,
        check=False,
    )
    packages: set[str] = set()
    top: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name_field = line.split(":", 1)[1].split("|")
        name = name_field.strip()
        if not cumulative.strip().isdigit():
            continue  # the header line
        packages.add(name.split(".")[0])
        if len(name_field) - len(name_field.lstrip(" ")) == 1:  # depth 0: imported directly
            top.append((int(cumulative), name))
    heavy = sorted(p for p in c.HEAVY_MODULES if p in packages)
    return {
        "command": c.shown(argv, c.REPO_ROOT),
        "exit_code": proc.returncode,
        "heavy_imported": heavy,
        "informational_imported": sorted(p for p in INFORMATIONAL if p in packages),
        "top_level_slowest_ms": [
            {"module": name, "cumulative_ms": us / 1000} for us, name in sorted(top)[::-1][:8]
        ],
        "packages": sorted(packages),
    }


def instruction_counts() -> dict[str, Any]:
    """Every baseline's and command's instructions, with and without a byte-code cache.

    Without valgrind: only a note saying why there are no counts.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind not found: instruction counts skipped"}
    argvs = {name: [sys.executable, "-c", code] for name, code in BASELINES.items()}
    argvs |= {name: c.orch_argv(*flags) for name, flags in COMMANDS.items()}
    counts: dict[str, dict[str, int | None]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        project = _bundled_project_copy(Path(tmp, "project"))
        cache = Path(tmp, "pycache")
        env = c.bench_env({"PYTHONHASHSEED": "0", "PYTHONPYCACHEPREFIX": str(cache)})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for argv in [*argvs.values(), KEEPING_RUN]:  # fill the caches; count from then on
            subprocess.run(argv, cwd=project, env=env, capture_output=True, check=False)
        for state in CACHE_STATES:
            if state == "compiled":  # the orchestrator's byte code gone, nothing written anew
                # Only the package's: a virtualenv inside the checkout keeps its libraries'.
                package = c.REPO_ROOT / "orchestrator"
                shutil.rmtree(cache / package.relative_to(package.anchor))
                shutil.rmtree(project / STATE_DIR)
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            counts[state] = {}
            for name, argv in argvs.items():
                count, problem = _count([valgrind, "--tool=callgrind", *argv], env, project)
                counts[state][name] = count
                problems += [f"{name} ({state}): {problem}"] if problem else []
    return {
        "valgrind": valgrind,
        "commands": {name: c.shown(argv, c.REPO_ROOT) for name, argv in argvs.items()},
        "cwd": "a copy of the bundled project (configs/, training/), with .train_orch/",
        "env": "PYTHONHASHSEED=0 PYTHONPYCACHEPREFIX=<a cache filled by one run of each>; "
        "compiled: its part for the checkout removed, PYTHONDONTWRITEBYTECODE=1 and no "
        ".train_orch/",
        "counts": counts,
        "own": {state: _own_parts(by_name) for state, by_name in counts.items()},
        "problems": problems,
    }


def _bundled_project_copy(project: Path) -> Path:
    """The bundled jobs and scripts, with the state dir a run leaves (see the docstring)."""
    for part in PROJECT_PARTS:
        shutil.copytree(c.REPO_ROOT / part, project / part)
    (project / STATE_DIR).mkdir()
    return project


def _count(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int | None, str | None]:
    """Instructions the command ran under callgrind, or None and why not."""
    out = cwd.parent / "callgrind.out"
    argv = [argv[0], f"--callgrind-out-file={out}", *argv[1:]]
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=c.TIMEOUT_S,
        check=False,
    )
    out.unlink(missing_ok=True)
    found = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        return None, f"exit code {proc.returncode}: {c.tail(proc.stderr, 3)}"
    return int(found.group(1)), None


def _own_parts(counts: dict[str, int | None]) -> dict[str, dict[str, float | None]]:
    """Each command's millions of instructions above bare Python and above the libraries."""

    def above(name: str, base: str) -> float | None:
        total, floor = counts[name], counts[base]
        return None if total is None or floor is None else (total - floor) / 1e6

    return {
        name: {"python": above(name, "python -c pass"), "libs": above(name, LIBS)}
        for name in COMMANDS
    }


def instruction_table(record: dict[str, Any]) -> dict[str, Any]:
    """Millions of instructions per command, warm and cold, and above each baseline."""
    rows = []
    for name in [*BASELINES, *COMMANDS]:
        row = [name]
        for state in CACHE_STATES:
            count = record["counts"][state][name]
            own = record["own"][state].get(name, {"python": None, "libs": None})
            row += [c.fmt(None if count is None else count / 1e6, 1)]
            row += [c.fmt(own["python"], 1), c.fmt(own["libs"], 1)]
        rows.append(row)
    return {
        "title": "instructions (millions), valgrind --tool=callgrind, once each: byte code and "
        "scripts' facts cached / the checkout's modules compiled and every script parsed "
        "(libs = import click, yaml, rich.console)",
        "headers": ["command", "cached", "- python", "- libs", "compiled", "- python", "- libs"],
        "rows": rows,
    }


def instruction_summary(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary line per command (cached, above the libraries), and --list compiled."""
    if "skipped" in record:
        row = c.summary_row(f"--list: M instructions above {LIBS}", {"unit": ""})
        return [{**row, "note": record["skipped"], "target": f"<= {LIST_TARGET_MI:.0f} M"}]
    lines = []
    for name in COMMANDS:
        own = record["own"]["cached"][name]["libs"]
        target = name == "--list"
        lines.append(
            c.summary_row(
                f"{name}: M instructions above {LIBS}",
                {"unit": "M", "median": own, "min": own, "max": own},
                target=f"<= {LIST_TARGET_MI:.0f} M" if target else "",
                ok=(own is not None and own <= LIST_TARGET_MI) if target else None,
            )
        )
    compiled = record["own"]["compiled"]["--list"]["libs"]
    lines.append(
        {
            **c.summary_row(
                f"--list, the checkout's modules compiled: M instructions above {LIBS}",
                {"unit": "M", "median": compiled, "min": compiled, "max": compiled},
            ),
            "note": "as from a fresh checkout with PYTHONDONTWRITEBYTECODE=1, no .train_orch/",
        }
    )
    return lines


def run(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 10
    variants = [
        c.Variant(
            name,
            c.shown([sys.executable, "-c", code], c.REPO_ROOT),
            partial(c.run_ok, [sys.executable, "-c", code], c.REPO_ROOT),
        )
        for name, code in BASELINES.items()
    ]
    for name, flags in COMMANDS.items():
        argv = c.orch_argv(*flags)
        variants.append(
            c.Variant(name, c.shown(argv, c.REPO_ROOT), partial(c.run_ok, argv, c.REPO_ROOT))
        )
    c.measure(variants, rounds, "startup")
    by_name = {v.name: v for v in variants}
    derived: dict[str, dict[str, Any]] = {
        "libs - python": c.derive(
            f"({LIBS} - python -c pass) * 1000",
            "ms",
            c.per_round(by_name, [LIBS, "python -c pass"], lambda a, b: (a - b) * 1000),
        )
    }
    for name in COMMANDS:
        for base, short in (("python -c pass", "python"), (LIBS, "libs")):
            derived[f"{name} - {short}"] = c.derive(
                f"({name} - {base}) * 1000",
                "ms",
                c.per_round(by_name, [name, base], lambda a, b: (a - b) * 1000),
            )
    imports = {name: import_times(flags) for name, flags in COMMANDS.items()}
    instructions = instruction_counts()
    problems = c.all_problems(variants) + instructions.get("problems", [])
    for name, record in imports.items():
        if record["exit_code"] != 0:
            problems.append(f"{record['command']}: exit code {record['exit_code']}")
        if record["heavy_imported"]:
            problems.append(f"{name} imports {', '.join(record['heavy_imported'])}")
    import_rows = [
        [
            name,
            ", ".join(r["heavy_imported"]) or "none",
            ", ".join(r["informational_imported"]) or "none",
            ", ".join(
                f"{m['module']} {m['cumulative_ms']:.0f}" for m in r["top_level_slowest_ms"][:3]
            ),
        ]
        for name, r in imports.items()
    ]
    list_row = derived["--list - python"]
    summary = instruction_summary(instructions)
    summary += [
        c.summary_row(
            f"{name}: ms above python -c pass",
            derived[f"{name} - python"],
            target=f"< {LIST_TARGET_MS:.0f} ms" if name == "--list" else "",
            ok=(list_row["median"] < LIST_TARGET_MS) if name == "--list" else None,
        )
        for name in COMMANDS
    ]
    heavy_any = sorted({m for r in imports.values() for m in r["heavy_imported"]})
    summary.append(
        {
            **c.summary_row("heavy ML imports on --help/--list/--dry-run", {"unit": ""}),
            "note": ", ".join(heavy_any) or "none",
            "target": "none",
            "ok": not heavy_any,
        }
    )
    return {
        "title": TITLE,
        "params": {"rounds": rounds, "cwd": str(c.REPO_ROOT)},
        "commands": {v.name: v.command for v in variants},
        "variants": c.variants_record(variants),
        "derived": derived,
        "imports": imports,
        "instructions": instructions,
        "tables": [
            *([] if "skipped" in instructions else [instruction_table(instructions)]),
            c.variants_table(variants, f"wall time, {rounds} rounds, cwd {c.REPO_ROOT}"),
            c.derived_table(derived, "derived, per round"),
            {
                "title": "python -X importtime (top-level cumulative ms)",
                "headers": ["command", "ML libs imported", "also imported", "slowest imports"],
                "rows": import_rows,
            },
        ],
        "summary": summary,
        "problems": problems,
    }
