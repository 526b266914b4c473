"""Benchmark ``startup``: how long the orchestrator's light commands take, above bare Python.

Timed in the repository itself (cwd = the checkout, its real ``configs/`` and
``training/``), interleaved over rounds (10; ``--quick``: 3):

* ``python -c pass``                 the interpreter alone;
* ``python -c "import click, yaml"`` plus the two libraries the CLI cannot do without;
* ``run_all_training.py --help``, ``--list`` and ``--dry-run``.

Per round: ``<command> - python -c pass`` and ``<command> - import click, yaml``, in ms.
Target: ``--list`` under 150 ms above bare Python.

Then, untimed, each of the three commands once more under ``python -X importtime``: the
modules it imported are checked for sklearn, xgboost, lightgbm, optuna and ray (none may
appear on these paths), and the slowest top-level imports of ``--list`` are recorded.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from typing import Any

import _common as c

NAME = "startup"
TITLE = "start-up of --help, --list and --dry-run above bare Python"
LIST_TARGET_MS = 150.0
COMMANDS = {"--help": ("--help",), "--list": ("--list",), "--dry-run": ("--dry-run",)}
BASELINES = {"python -c pass": "pass", "import click, yaml": "import click, yaml"}
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
        "import click, yaml - python": c.derive(
            "(import click, yaml - python -c pass) * 1000",
            "ms",
            c.per_round(
                by_name, ["import click, yaml", "python -c pass"], lambda a, b: (a - b) * 1000
            ),
        )
    }
    for name in COMMANDS:
        for base, short in (("python -c pass", "python"), ("import click, yaml", "click+yaml")):
            derived[f"{name} - {short}"] = c.derive(
                f"({name} - {base}) * 1000",
                "ms",
                c.per_round(by_name, [name, base], lambda a, b: (a - b) * 1000),
            )
    imports = {name: import_times(flags) for name, flags in COMMANDS.items()}
    problems = c.all_problems(variants)
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
    summary = [
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
        "tables": [
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
