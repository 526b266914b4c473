"""Benchmark ``overhead``: what the orchestrator adds per job, against other ways to spawn.

N no-op jobs (300; ``--quick``: 60), once as ``<python> -c pass`` and once as ``/bin/true``
(so Python's own start-up does not dominate), each run by:

* ``bare loop``       ``subprocess.run(cmd)`` N times in this process;
* ``xargs -P1/-P2``   ``seq N | xargs -P k -I{} cmd``;
* ``threads(2)``      ``ThreadPoolExecutor(2)`` mapping ``subprocess.run``;
* ``parallel -j2``    GNU parallel, when installed;
* ``snakemake -j2``   one rule over N targets (``touch()`` outputs) running the same
                      command, ``snakemake -j2 --quiet``, when installed;
* ``orch seq``        ``run_all_training.py -q --no-auto-discover`` in a temp project whose
                      ``configs/jobs.yaml`` holds the N command jobs;
* ``orch par(2)``     the same with ``--parallel --max-workers 2 --cpus 2``;
* ``orch dry`` and ``orch dry par(2)``  the same two with ``--dry-run --format json``:
                      interpreter, imports, config loading and planning of the N jobs,
                      nothing run: the orchestrator's start-up. (JSON, not the text plan:
                      printing N text entries costs ~0.3 ms a job, which a real run does
                      not spend, so subtracting it would flatter the result.)
* for ``/bin/true`` also ``bare loop``, ``threads(2)``, ``orch seq`` and ``orch par(2)``
                      over 2N jobs, for the marginal cost of a job: nothing subtracted but
                      the baseline, so config, planning, the journal and the reports count.

Per round, in ms per job:

    orch sequential (net) = (orch seq - orch dry - bare loop) / N
    orch 2 workers (net)  = (orch par(2) - orch dry par(2) - threads(2)) / N
    <tool> (gross)        = (tool - baseline) / N, baseline = bare loop for one-at-a-time
                            runners and threads(2) for two-at-a-time ones; the other tools'
                            start-up is not subtracted (nor is the orchestrator's in the
                            ``gross`` rows shown for it)

    orch marginal        = ((orch 2N - orch N) - (baseline 2N - baseline N)) / N
    loop+files - bare    = what the contract's files cost: the bare loop also creating a
                           new output dir and a new log (the job's stdout) per job

Each orchestrator run starts from a project with no outputs: the previous run's (N logs and
dirs) are moved aside before the clock starts, and deleted when the bench exits, because
files created right after N were deleted cost more on this machine's file system
(``_common.set_aside`` says why).

The net figures are split with the summary's ``duration_s`` (the scheduling loop alone):
``in-run`` = (duration_s - baseline) / N, ``outside`` = (wall - dry - duration_s) / N.
``outside`` is the work a real run does once and a dry run does not: importing the
scheduler and the report writers, the final table, the summary files (~60 ms in all on
this machine, ~0.2 ms a job over 300). It does not grow with N, so the marginal figure,
which cancels it, is the one that says what a job costs; the net one is per job plus that
once-per-run work spread over N.

``orch seq`` and ``orch par(2)`` on a 2-core machine also run the two ways a job's dir and
log get made (``orchestrator/execute/stager.py``): ahead, by a thread, when a core is
spare (one worker); by the loop itself when every core has a job. Measured when that
choice was made, 600 no-op jobs on 2 cores: 2 workers 0.81 s with the thread, 0.70 s
without; 1 worker 0.80 s with it, 0.85 s without.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import _common as c

NAME = "overhead"
TITLE = "per-job overhead of the orchestrator vs bare spawning, xargs, GNU parallel, Snakemake"
SEQ_FLAGS = ("-q", "--no-auto-discover")
PAR_FLAGS = ("--parallel", "--max-workers", "2", "--cpus", "2")
DRY_FLAGS = ("--dry-run", "--format", "json")
TARGET_MS = 0.5


def run_bare_loop(cmd: Sequence[str], n_jobs: int) -> str | None:
    failures = sum(subprocess.run(cmd, check=False).returncode != 0 for _ in range(n_jobs))
    return f"{failures} of {n_jobs} runs failed" if failures else None


def run_loop_with_files(cmd: Sequence[str], n_jobs: int, root: Path) -> str | None:
    """The bare loop plus what the script contract costs on disk: per job a new output
    dir and a new log that takes the job's output."""
    failures = 0
    for index in range(n_jobs):
        (root / "results" / str(index)).mkdir(parents=True)
        with (root / "logs" / f"{index}.log").open("wb") as log:
            run = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
            failures += run.returncode != 0
    return f"{failures} of {n_jobs} runs failed" if failures else None


def fresh_dirs(root: Path) -> None:
    for name in ("results", "logs"):
        c.set_aside(root / name)
    (root / "logs").mkdir(parents=True)


def run_thread_pool(cmd: Sequence[str], n_jobs: int, workers: int) -> str | None:
    def one(_: int) -> int:
        return subprocess.run(cmd, check=False).returncode

    with ThreadPoolExecutor(workers) as pool:
        failures = sum(code != 0 for code in pool.map(one, range(n_jobs)))
    return f"{failures} of {n_jobs} runs failed" if failures else None


def run_fed(argv: Sequence[str], n_jobs: int) -> str | None:
    """``seq N | argv`` (xargs, GNU parallel)."""
    lines = "".join(f"{index}\n" for index in range(1, n_jobs + 1))
    _, _, problem = c.run_quiet(argv, stdin_text=lines)
    return problem


def write_snakefile(workdir: Path, cmd: Sequence[str], n_jobs: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(
        f"IDS = [f'{{i:03d}}' for i in range({n_jobs})]\n\n"
        "rule all:\n"
        '    input: expand("done/{i}", i=IDS)\n\n'
        "rule noop:\n"
        '    output: touch("done/{i}")\n'
        f"    shell: {shlex.join(cmd)!r}\n",
        encoding="utf-8",
    )


def run_snakemake(argv: Sequence[str], workdir: Path, n_jobs: int) -> str | None:
    for name in ("done", ".snakemake"):
        c.set_aside(workdir / name)
    _, _, problem = c.run_quiet(argv, workdir)
    if problem:
        return problem
    made = len(list((workdir / "done").iterdir())) if (workdir / "done").is_dir() else 0
    return None if made == n_jobs else f"snakemake made {made} of {n_jobs} targets"


def build_variants(
    root: Path, cmd: Sequence[str], n_jobs: int, in_run: dict[str, list[float]]
) -> list[c.Variant]:
    """The variants for one job kind; orchestrator runs append their ``duration_s`` to
    ``in_run[name]``."""
    project = root / "project"
    c.write_jobs(project, c.noop_jobs(cmd, n_jobs))
    cmd = list(cmd)
    files = root / "files"
    variants = [
        *baselines(cmd, n_jobs),
        c.Variant(
            "loop+files",
            f"for i in range({n_jobs}): mkdir results/i; subprocess.run({cmd!r}, "
            "stdout=open('logs/i.log', 'wb'), stderr=STDOUT)",
            partial(run_loop_with_files, cmd, n_jobs, files),
            prepare=partial(fresh_dirs, files),
        ),
    ]
    for workers in (1, 2):
        argv = ["xargs", "-P", str(workers), "-I{}", *cmd]
        variants.append(
            c.Variant(
                f"xargs -P{workers}",
                f"seq {n_jobs} | {c.shown(argv)}",
                partial(run_fed, argv, n_jobs),
            )
        )
    par = c.gnu_parallel()
    if par:
        argv = [par, "--will-cite", "-j", "2", "-N0", *cmd]
        variants.append(
            c.Variant(
                "parallel -j2", f"seq {n_jobs} | {c.shown(argv)}", partial(run_fed, argv, n_jobs)
            )
        )
    smk = c.snakemake_argv()
    if smk:
        workdir = root / "snakemake"
        write_snakefile(workdir, cmd, n_jobs)
        argv = [*smk, "-j2", "--quiet"]
        variants.append(
            c.Variant(
                "snakemake -j2",
                c.shown(argv, "<snakemake dir>") + f"   # Snakefile: rule noop x {n_jobs}",
                partial(run_snakemake, argv, workdir, n_jobs),
            )
        )
    orch_runs = {
        "orch seq": ([*SEQ_FLAGS], False),
        "orch dry": ([*SEQ_FLAGS, *DRY_FLAGS], True),
        "orch par(2)": ([*SEQ_FLAGS, *PAR_FLAGS], False),
        "orch dry par(2)": ([*SEQ_FLAGS, *PAR_FLAGS, *DRY_FLAGS], True),
    }
    for name, (flags, dry) in orch_runs.items():
        variants.append(
            orch_variant(name, flags, project, cmd=cmd, n_jobs=n_jobs, dry=dry, in_run=in_run)
        )
    return variants


def baselines(cmd: list[str], n_jobs: int, suffix: str = "") -> list[c.Variant]:
    return [
        c.Variant(
            f"bare loop{suffix}",
            f"for _ in range({n_jobs}): subprocess.run({cmd!r})",
            partial(run_bare_loop, cmd, n_jobs),
        ),
        c.Variant(
            f"threads(2){suffix}",
            f"ThreadPoolExecutor(2).map(lambda _: subprocess.run({cmd!r}), range({n_jobs}))",
            partial(run_thread_pool, cmd, n_jobs, 2),
        ),
    ]


def orch_variant(
    name: str,
    flags: Sequence[str],
    project: Path,
    *,
    cmd: list[str],
    n_jobs: int,
    dry: bool,
    in_run: dict[str, list[float]],
) -> c.Variant:
    argv = c.orch_argv(*flags)
    return c.Variant(
        name,
        c.shown(argv, "<project>") + f"   # {n_jobs} jobs: {shlex.join(cmd)}",
        partial(
            c.orchestrate,
            argv,
            project,
            n_jobs,
            dry=dry,
            in_run=None if dry else in_run.setdefault(name, []),
        ),
        prepare=partial(c.clean_outputs, project),
    )


def marginal_variants(
    root: Path, cmd: Sequence[str], n_jobs: int, in_run: dict[str, list[float]]
) -> list[c.Variant]:
    """The baselines and both orchestrator runs again over 2N jobs (``... 2N``)."""
    project = root / "project-2n"
    c.write_jobs(project, c.noop_jobs(cmd, 2 * n_jobs))
    return [
        *baselines(list(cmd), 2 * n_jobs, " 2N"),
        *(
            orch_variant(
                name, flags, project, cmd=list(cmd), n_jobs=2 * n_jobs, dry=False, in_run=in_run
            )
            for name, flags in (
                ("orch seq 2N", SEQ_FLAGS),
                ("orch par(2) 2N", (*SEQ_FLAGS, *PAR_FLAGS)),
            )
        ),
    ]


def derived_for(
    by_name: dict[str, c.Variant], n_jobs: int, in_run: dict[str, list[float]]
) -> dict[str, dict[str, Any]]:
    def ms(total_s: float) -> float:
        return total_s / n_jobs * 1000

    def split(run: str, dry: str, base: str) -> dict[str, dict[str, Any]]:
        """Where the net overhead is: inside the scheduling loop, or around it."""
        runs = in_run.get(run, [])
        rows = list(
            zip(
                by_name[run].times_s, by_name[dry].times_s, by_name[base].times_s, runs, strict=True
            )
        )
        return {
            f"  in-run: {run} duration_s - {base}": c.derive(
                f"({run} summary duration_s - {base}) / N * 1000",
                "ms/job",
                [ms(r_in - b) for _, _, b, r_in in rows],
            ),
            f"  outside: {run} - dry - duration_s": c.derive(
                f"({run} - {dry} - {run} summary duration_s) / N * 1000",
                "ms/job",
                [ms(r - d - r_in) for r, d, _, r_in in rows],
            ),
        }

    derived = {
        "orch seq - dry - bare loop": c.derive(
            "(orch seq - orch dry - bare loop) / N * 1000",
            "ms/job",
            c.per_round(
                by_name, ["orch seq", "orch dry", "bare loop"], lambda r, d, b: ms(r - d - b)
            ),
        ),
        **split("orch seq", "orch dry", "bare loop"),
        "orch par(2) - dry - threads(2)": c.derive(
            "(orch par(2) - orch dry par(2) - threads(2)) / N * 1000",
            "ms/job",
            c.per_round(
                by_name,
                ["orch par(2)", "orch dry par(2)", "threads(2)"],
                lambda r, d, b: ms(r - d - b),
            ),
        ),
        **split("orch par(2)", "orch dry par(2)", "threads(2)"),
        **marginal(by_name, n_jobs),
        "loop+files - bare loop": c.derive(
            "(loop+files - bare loop) / N * 1000: a new dir and log per job",
            "ms/job",
            c.per_round(by_name, ["loop+files", "bare loop"], lambda f, b: ms(f - b)),
        ),
        "orch dry (start-up)": c.derive(
            "orch dry * 1000", "ms", c.per_round(by_name, ["orch dry"], lambda d: d * 1000)
        ),
    }
    gross = [
        ("orch seq", "bare loop"),
        ("xargs -P1", "bare loop"),
        ("orch par(2)", "threads(2)"),
        ("xargs -P2", "threads(2)"),
        ("parallel -j2", "threads(2)"),
        ("snakemake -j2", "threads(2)"),
    ]
    for name, base in gross:
        if name not in by_name:
            derived[f"{name} - {base}"] = c.derive(
                f"({name} - {base}) / N", "ms/job", [], absent=True
            )
            continue
        derived[f"{name} - {base}"] = c.derive(
            f"({name} - {base}) / N * 1000",
            "ms/job",
            c.per_round(by_name, [name, base], lambda t, b: ms(t - b)),
        )
        derived[f"{name} / {base}"] = c.derive(
            f"{name} / {base}", "x", c.per_round(by_name, [name, base], lambda t, b: t / b)
        )
    return derived


def marginal(by_name: dict[str, c.Variant], n_jobs: int) -> dict[str, dict[str, Any]]:
    """What one more job costs, everything included: the slope between N and 2N jobs."""
    figures = {}
    for run, base in (("orch seq", "bare loop"), ("orch par(2)", "threads(2)")):
        if f"{run} 2N" not in by_name:
            continue
        figures[f"{run} marginal - {base}"] = c.derive(
            f"(({run} 2N - {run}) - ({base} 2N - {base})) / N * 1000",
            "ms/job",
            c.per_round(
                by_name,
                [f"{run} 2N", run, f"{base} 2N", base],
                lambda r2, r1, b2, b1: ((r2 - r1) - (b2 - b1)) / n_jobs * 1000,
            ),
        )
    return figures


def run(quick: bool) -> dict[str, Any]:
    n_jobs, rounds = (60, 2) if quick else (300, 3)
    kinds = {"python": [sys.executable, "-c", "pass"], "true": ["/bin/true"]}
    result: dict[str, Any] = {
        "title": TITLE,
        "params": {"jobs": n_jobs, "rounds": rounds, "kinds": kinds},
        "tools": {
            "gnu_parallel": c.gnu_parallel() or "absent",
            "snakemake": " ".join(c.snakemake_argv() or ()) or "absent",
        },
        "kinds": {},
        "tables": [],
        "summary": [],
        "problems": [],
    }
    for kind, cmd in kinds.items():
        with tempfile.TemporaryDirectory(prefix=f"bench-overhead-{kind}-") as tmp:
            in_run: dict[str, list[float]] = {}
            variants = build_variants(Path(tmp), cmd, n_jobs, in_run)
            if kind == "true":  # Python start-up's noise would swamp the difference
                variants += marginal_variants(Path(tmp), cmd, n_jobs, in_run)
            c.measure(variants, rounds, f"overhead/{kind}")
        by_name = {v.name: v for v in variants}
        derived = derived_for(by_name, n_jobs, in_run)
        result["kinds"][kind] = {
            "job_command": cmd,
            "commands": {v.name: v.command for v in variants},
            "variants": c.variants_record(variants),
            "in_run_s": in_run,
            "derived": derived,
        }
        result["problems"] += [f"[{kind}] {p}" for p in c.all_problems(variants)]
        label = f"{kind}: {shlex.join(cmd)}, {n_jobs} jobs x {rounds} rounds"
        result["tables"].append(c.variants_table(variants, f"[{label}] wall time"))
        shown = {k: v for k, v in derived.items() if not v.get("absent") and "/" not in k}
        shown |= {k: v for k, v in derived.items() if k.endswith("/ threads(2)")}
        result["tables"].append(c.derived_table(shown, f"[{label}] derived, per round"))
        for key, figure in (
            ("orch seq - dry - bare loop", "orch seq: ms/job above bare loop, net"),
            ("orch par(2) - dry - threads(2)", "orch 2 workers: ms/job above threads(2), net"),
            ("orch seq marginal - bare loop", "orch seq: marginal ms/job above bare loop"),
            ("orch par(2) marginal - threads(2)", "orch 2 workers: marginal, above threads(2)"),
        ):
            if key not in derived:
                continue
            row = derived[key]
            result["summary"].append(
                c.summary_row(
                    f"[{kind}] {figure}",
                    row,
                    target=f"<= {TARGET_MS} ms",
                    ok=row["median"] is not None and row["median"] <= TARGET_MS,
                )
            )
        files = derived["loop+files - bare loop"]
        result["summary"].append(
            c.summary_row(f"[{kind}] a new dir and log per job (bare loop+files)", files)
        )
        for tool in ("xargs -P2", "parallel -j2", "snakemake -j2"):
            key = f"{tool} - threads(2)"
            row = derived[key]
            figure = f"[{kind}] {tool}: ms/job above threads(2), gross"
            if row.get("absent"):
                result["summary"].append({**c.summary_row(figure, row), "note": "absent"})
            else:
                result["summary"].append(c.summary_row(figure, row))
    return result
