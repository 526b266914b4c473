"""Benchmark ``discovery``: ``--list`` over a large tree, against a bare ``os.walk`` of it.

A generated tree (``--quick``: a fifth of it) of exactly 20,000 files:

* 500 ``train_m<NNN>.py`` scripts, each a small argparse script declaring 2 to 4 flags, spread
  over nested dirs (depths 2 to 5) among ordinary files (data, modules, notes);
* ``node_modules/`` with 4,000 files, some of them ``train_*.py`` decoys;
* ``tools_env/``, a virtualenv by its ``pyvenv.cfg`` only (no telling name), with 4,000
  files, decoys among them outside ``site-packages`` too.

Both skipped dirs must be pruned: ``--list`` must report exactly the 500 scripts, every round
(its header line) and once in full (``--list --format json``: the exact ids, and each
script's declared flags).

Timed, interleaved over rounds (5; ``--quick``: 3), cwd = the temp dir holding the tree:

* ``python -c pass``;
* ``os.walk``               ``python -c <walk the whole tree, count files and train_*.py>``;
* ``--list``                ``run_all_training.py --list --discover-roots tree``;
* ``--list (1 script)``     the same on a tree of one script: the fixed cost of ``--list``.

Per round: ``--list / os.walk`` (the headline ratio: both are a fresh process), their
difference in ms, and the net ratio ``(--list - --list (1 script)) / (os.walk - python)``:
the cost of discovering the tree against the cost of walking it, start-ups removed.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "discovery"
TITLE = "--list --discover-roots over a 20,000-file tree vs a bare os.walk"
FLAG_POOL = ("--output-dir", "--epochs", "--folds", "--seed", "--learning-rate", "--batch-size")
WALK_CODE = (
    "import os, sys\n"
    "files = scripts = 0\n"
    "for _, _, names in os.walk(sys.argv[1]):\n"
    "    files += len(names)\n"
    "    scripts += sum(n.startswith('train_') and n.endswith('.py') for n in names)\n"
    "print(files, scripts)\n"
)
HEADER = re.compile(r"^(\d+) jobs? from", re.MULTILINE)


def script_text(flags: list[str]) -> str:
    lines = ['"""A generated training script."""', "import argparse", "", "", "def main():"]
    lines.append("    parser = argparse.ArgumentParser()")
    lines += [f'    parser.add_argument("{flag}", default=None)' for flag in flags]
    lines += ["    parser.parse_args()", "", "", 'if __name__ == "__main__":', "    main()", ""]
    return "\n".join(lines)


def flags_of(index: int) -> list[str]:
    count = 2 + index % 3
    return [FLAG_POOL[(index + k) % len(FLAG_POOL)] for k in range(count)]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def generate(tree: Path, scale: int) -> dict[str, Any]:
    """Write the tree; return what is in it (``scale`` 1 = full size, 5 = a fifth)."""
    total, n_scripts, n_node, n_venv = (
        20_000 // scale,
        500 // scale,
        4_000 // scale,
        4_000 // scale,
    )
    expected: dict[str, list[str]] = {}
    for i in range(n_scripts):
        nested = "/".join(f"level{d}" for d in range(i % 4))  # depth 2 to 5
        rel = f"proj/pkg{i % 25:02d}/mod{i % 7}/{nested}/train_m{i:03d}.py"
        expected[f"m{i:03d}"] = flags_of(i)
        write(tree / rel, script_text(flags_of(i)))
    decoys = 0
    for j in range(n_node):
        if j % 200 == 0:
            write(
                tree / f"node_modules/pkg{j % 80}/train_nm{j}.py",
                script_text(["--epochs", "--seed"]),
            )
            decoys += 1
        else:
            write(tree / f"node_modules/pkg{j % 80}/lib/file{j}.js", "module.exports = {};\n")
    write(tree / "tools_env/pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = false\n")
    for j in range(n_venv - 1):
        if j % 200 == 0:
            where = "bin" if j % 400 == 0 else f"lib/python3/site-packages/pkg{j % 60}"
            write(
                tree / f"tools_env/{where}/train_venv{j}.py", script_text(["--epochs", "--folds"])
            )
            decoys += 1
        else:
            write(tree / f"tools_env/lib/python3/site-packages/pkg{j % 60}/mod{j}.py", "X = 1\n")
    filler = total - n_scripts - n_node - n_venv
    kinds = ("data_{}.csv", "util_{}.py", "notes_{}.md", "config_{}.json")
    for j in range(filler):
        name = kinds[j % len(kinds)].format(j)
        nested = "/".join(f"level{d}" for d in range(j % 5))
        write(tree / f"proj/pkg{j % 25:02d}/mod{j % 7}/{nested}/{name}", "1,2,3\n")
    return {"files": total, "scripts": n_scripts, "expected": expected, "decoys": decoys}


def run_walk(argv: list[str], cwd: Path, files: int, scripts: int) -> str | None:
    _, output, problem = c.run_quiet(argv, cwd)
    if problem:
        return problem
    want = f"{files} {scripts}"
    return (
        None if output.strip() == want else f"os.walk counted {output.strip()!r}, expected {want!r}"
    )


def run_list(argv: list[str], cwd: Path, n_scripts: int) -> str | None:
    _, output, problem = c.run_quiet(argv, cwd)
    if problem:
        return problem
    match = HEADER.search(output)
    listed = int(match.group(1)) if match else None
    return None if listed == n_scripts else f"--list reported {listed} jobs, expected {n_scripts}"


def check_listing(cwd: Path, expected: dict[str, list[str]]) -> tuple[list[str], dict[str, Any]]:
    """``--list --format json`` once: exactly the expected ids, each with its declared flags."""
    argv = c.orch_argv("--list", "--discover-roots", "tree", "--format", "json")
    _, output, problem = c.run_quiet(argv, cwd, env=c.bench_env())
    if problem:
        return [problem], {"command": c.shown(argv, "<tmp>")}
    try:
        jobs = json.loads(output[output.index("{") :])["jobs"]
    except (ValueError, KeyError) as exc:
        return [f"--list --format json: unreadable output ({exc})"], {}
    ids = {job["id"] for job in jobs}
    problems = []
    if ids != set(expected):
        extra, missing = sorted(ids - set(expected)), sorted(set(expected) - ids)
        problems.append(f"listed ids differ: extra {extra[:5]}, missing {missing[:5]}")
    wrong_flags = [
        job["id"]
        for job in jobs
        if job["id"] in expected and sorted(job.get("flags") or []) != sorted(expected[job["id"]])
    ]
    if wrong_flags:
        problems.append(
            f"flags read wrongly for {len(wrong_flags)} scripts, e.g. {wrong_flags[:3]}"
        )
    record = {
        "command": c.shown(argv, "<tmp>"),
        "listed": len(jobs),
        "expected": len(expected),
        "flags_mismatch": len(wrong_flags),
        "example": jobs[0] if jobs else None,
    }
    return problems, record


def run(quick: bool) -> dict[str, Any]:
    scale, rounds = (5, 3) if quick else (1, 5)
    with tempfile.TemporaryDirectory(prefix="bench-discovery-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        info = generate(root / "tree", scale)
        write(root / "small/train_only.py", script_text(["--epochs", "--seed"]))
        generate_s = time.perf_counter() - started
        files, scripts = info["files"], info["scripts"]
        walk_argv = [sys.executable, "-c", WALK_CODE, "tree"]
        list_argv = c.orch_argv("--list", "--discover-roots", "tree")
        small_argv = c.orch_argv("--list", "--discover-roots", "small")
        pass_argv = [sys.executable, "-c", "pass"]
        variants = [
            c.Variant("python -c pass", c.shown(pass_argv), partial(c.run_ok, pass_argv, root)),
            c.Variant(
                "os.walk",
                c.shown(walk_argv, "<tmp>"),
                partial(run_walk, walk_argv, root, files, scripts + info["decoys"]),
            ),
            c.Variant(
                "--list", c.shown(list_argv, "<tmp>"), partial(run_list, list_argv, root, scripts)
            ),
            c.Variant(
                "--list (1 script)",
                c.shown(small_argv, "<tmp>"),
                partial(run_list, small_argv, root, 1),
            ),
        ]
        c.measure(variants, rounds, "discovery")
        listing_problems, listing = check_listing(root, info["expected"])
    by_name = {v.name: v for v in variants}
    derived = {
        "--list / os.walk": c.derive(
            "--list / os.walk", "x", c.per_round(by_name, ["--list", "os.walk"], lambda a, b: a / b)
        ),
        "--list - os.walk": c.derive(
            "(--list - os.walk) * 1000",
            "ms",
            c.per_round(by_name, ["--list", "os.walk"], lambda a, b: (a - b) * 1000),
        ),
        "net: discovery / walk": c.derive(
            "(--list - --list (1 script)) / (os.walk - python -c pass)",
            "x",
            c.per_round(
                by_name,
                ["--list", "--list (1 script)", "os.walk", "python -c pass"],
                lambda a, a1, w, p: (a - a1) / (w - p),
            ),
        ),
        "discovery of the tree": c.derive(
            "(--list - --list (1 script)) * 1000",
            "ms",
            c.per_round(by_name, ["--list", "--list (1 script)"], lambda a, a1: (a - a1) * 1000),
        ),
        "bare walk of the tree": c.derive(
            "(os.walk - python -c pass) * 1000",
            "ms",
            c.per_round(by_name, ["os.walk", "python -c pass"], lambda w, p: (w - p) * 1000),
        ),
    }
    problems = c.all_problems(variants) + listing_problems
    count_ok = not any(v.problems for v in variants if v.name == "--list") and not listing_problems
    summary = [
        c.summary_row("--list / bare os.walk (wall)", derived["--list / os.walk"]),
        c.summary_row("net: (--list - fixed) / (walk - python)", derived["net: discovery / walk"]),
        c.summary_row(
            "discovery of the tree above --list's fixed cost", derived["discovery of the tree"]
        ),
        {
            **c.summary_row(f"listed exactly {scripts} of {files} files", {"unit": ""}),
            "note": f"{listing.get('listed')} listed, "
            f"{listing.get('flags_mismatch')} flag mismatches",
            "target": f"= {scripts}",
            "ok": count_ok,
        },
    ]
    return {
        "title": TITLE,
        "params": {
            "rounds": rounds,
            "files": files,
            "scripts": scripts,
            "decoys_in_skipped_dirs": info["decoys"],
            "generate_s": generate_s,
        },
        "commands": {v.name: v.command for v in variants},
        "variants": c.variants_record(variants),
        "derived": derived,
        "listing_check": listing,
        "tables": [
            c.variants_table(
                variants, f"wall time, {files} files, {scripts} scripts, {rounds} rounds"
            ),
            c.derived_table(derived, "derived, per round"),
        ],
        "summary": summary,
        "problems": problems,
    }
