"""Turn job specs into the exact commands a run executes. Pure: no processes, no files.

This module builds each `PlannedJob` (argv, env, output dir, log, needs) and the start
order; `script_args.py` spells a job's settings in its script's own dialect.

Everything that varies by machine (interpreter, CPU count) is passed in, so the same inputs
always give the same plan, `--dry-run` prints precisely what a run would start, and tests
compare plans as plain values.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

from orchestrator.discovery import canonical
from orchestrator.errors import ConfigError
from orchestrator.jobs import SAME_FILES, defined_at, is_clash, mark_clashes, safe_name
from orchestrator.models import KNOB_NAMES, PRIORITIES, JobSpec, Pairs, Plan, PlannedJob, RunOptions
from orchestrator.plan.script_args import (
    doubled_knob,
    flag_for,
    knob_for,
    knob_why,
    param_args,
    standard_args,
)
from orchestrator.resources import Pool, check_gpus, check_memory_fits, needs
from orchestrator.secrets import secret_values

if TYPE_CHECKING:  # annotations only: --list does not load run_summary/
    from orchestrator.run_summary.measured import Measured

DEFAULT_GRACE = 10.0
#: Names each job's processes' job (in their environment): scripts can read it, and the
#: supervisor uses it to tell whose orphan a stray daemon is.
JOB_ID_VAR = "TRAIN_ORCH_JOB_ID"
#: Thread-pool variables of the BLAS/OpenMP runtimes behind numpy, scikit-learn, XGBoost
#: and LightGBM; each defaults to every core, so N parallel jobs would run N*cores threads.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def build_plan(
    specs: Sequence[JobSpec],
    options: RunOptions,
    *,
    python: str,
    cpu_count: int,
    durations: Mapping[str, float] | None = None,
    inherited_env: Mapping[str, str] | None = None,
    pool: Pool | None = None,
    measured: Mapping[str, Measured] | None = None,
) -> Plan:
    """The jobs in the order they would start: by priority, then longest expected first.

    Longest-first keeps the last minutes of a parallel run from being one long job alone.
    `pool`: the memory and GPUs running jobs share (read from the host by the caller);
    `measured`: each job's last measured success, for `auto` needs.
    """
    pool = pool or Pool()
    root = options.output_root
    log_dir = str(PurePath(root, "logs"))
    refuse_clashes(specs, root)
    cpus = options.cpus or cpu_count
    workers = (options.max_workers or cpu_count) if options.parallel else 1
    inherited = secret_values(inherited_env or {})  # once, not once per job
    planned_ids = frozenset(spec.id for spec in specs)
    jobs = [
        _plan_job(
            spec,
            options,
            python=python,
            log_dir=log_dir,
            total_cpus=cpus,
            expected_duration=(durations or {}).get(spec.id),
            planned_ids=planned_ids,
            inherited_secrets=inherited,
            inherited_env=inherited_env or {},
            pool=pool,
            measured=(measured or {}).get(spec.id),
        )
        for spec in specs
    ]
    from orchestrator.run_summary import SUMMARY_DIR  # its types: not for --list to load

    return Plan(
        jobs=tuple(start_order(jobs)),
        output_root=root,
        log_dir=log_dir,
        summary_dir=str(PurePath(root, SUMMARY_DIR)),
        max_workers=max(1, workers),
        cpus=cpus,
        memory=pool.memory,
        memory_source=pool.memory_source,
        gpu_devices=pool.gpus,
        gpu_source=pool.gpu_source,
        fail_fast=options.fail_fast,
        enforce_gates=options.gates == "enforce",
    )


def refuse_clashes(specs: Sequence[JobSpec], output_root: str) -> None:
    """Stop before anything runs when two jobs would write the same log and results dir.

    `merge` marked such jobs (the partner may not even be selected: its earlier results
    would still be read as this job's); jobs given straight to `build_plan` are checked here.
    """
    # The last one: the id that came second is the one to blame, as for a duplicate key.
    for spec in reversed(mark_clashes(specs)):
        note = spec.error or ""
        if is_clash(note):
            path, line, key = defined_at(spec)
            log = PurePath(output_root, "logs", f"{safe_name(spec.id)}.log")
            output_dir = output_dir_of(output_root, spec.id)
            raise ConfigError(
                path,
                f"{spec.id!r} shares {log} and {output_dir}/ with "
                + note.removeprefix(SAME_FILES).lstrip(),
                line=line,
                key=key,
                hint="change one of the values" if key.endswith(".matrix") else "rename one",
            )


def refuse_doubled_knob(spec: JobSpec) -> None:
    """Stop before anything runs when a job's `args:` or matrix would pass a standard
    setting a second time (see `doubled_knob`): exit 2 naming the key, not a run that
    trains with a value other than the one asked for."""
    found = doubled_knob(spec)
    if found is None:
        return
    given, knob = found
    path, line, key = _param_defined_at(spec, given)
    if knob.name == "output_dir":
        message = f"{knob.spelling} is the job's output dir, which the orchestrator chooses"
        hint = f"drop it; the script gets its dir as {knob.spelling} and $TRAIN_ORCH_OUTPUT_DIR"
    else:
        message = (
            f"{knob.spelling} is the job's {knob.name}, which the orchestrator passes; "
            f"a second one would win over it and over --{knob.name} typed in a run"
        )
        value = dict(spec.params).get(given)
        setting = f"{knob.name}: {value}" if isinstance(value, str) else f"{knob.name}:"
        hint = f"set '{setting}' on the job instead"
    raise ConfigError(path, message, line=line, key=key, hint=hint)


def _param_defined_at(spec: JobSpec, given: str) -> tuple[str, int | None, str]:
    """Where a parameter was set: a combination's matrix axis, the job's or the defaults'
    `args:`. A verbatim arg (`--epochs=3`) is named by its list."""
    path, line, key = defined_at(spec)
    if key.endswith(".matrix") and re.search(rf"[\[,]{re.escape(given)}=", spec.id):
        return path, line, f"{key}.{given}"
    places = {k: (p, n) for k, p, n in spec.locations}
    job = key.removesuffix(".matrix")
    for name, prefix in (("args", job), ("defaults.args", "defaults")):
        if name in places:
            suffix = f".{given}" if any(k == given for k, _ in spec.params) else ""
            return *places[name], f"{prefix}.args{suffix}"
    return path, line, key


def start_order(jobs: Sequence[PlannedJob]) -> list[PlannedJob]:
    """Needs first; among jobs whose needs are met, by priority, then longest expected.

    Longest-first keeps the last minutes of a parallel run from being one long job alone.
    """
    index = {job.id: i for i, job in enumerate(jobs)}
    waiting = {job.id: set(job.needs) for job in jobs}
    dependents: dict[str, list[PlannedJob]] = {}
    for job in jobs:
        for need in job.needs:
            dependents.setdefault(need, []).append(job)

    def rank(job: PlannedJob) -> tuple[int, float, int, str]:
        return (
            PRIORITIES.index(job.priority),
            -(job.expected_duration or 0.0),
            index[job.id],
            job.id,
        )

    ready = [rank(job) for job in jobs if not job.needs]
    heapq.heapify(ready)
    by_id = {job.id: job for job in jobs}
    ordered: list[PlannedJob] = []
    while ready:
        job = by_id[heapq.heappop(ready)[3]]
        ordered.append(job)
        for dependent in dependents.get(job.id, []):
            waiting[dependent.id].discard(job.id)
            if not waiting[dependent.id]:
                heapq.heappush(ready, rank(dependent))
    return ordered


def output_dir_of(output_root: str, job_id: str) -> str:
    return str(PurePath(output_root, "results", f"{safe_name(job_id)}_results"))


def needs_variable(job_id: str) -> str:
    """`TRAIN_ORCH_NEEDS_<ID>_DIR`, the id upper-cased with anything else made `_`."""
    return "TRAIN_ORCH_NEEDS_" + re.sub(r"[^A-Z0-9]", "_", job_id.upper()) + "_DIR"


def _plan_job(
    spec: JobSpec,
    options: RunOptions,
    *,
    python: str,
    log_dir: str,
    total_cpus: int,
    expected_duration: float | None,
    planned_ids: frozenset[str],
    inherited_secrets: tuple[str, ...],
    inherited_env: Mapping[str, str],
    pool: Pool,
    measured: Measured | None,
) -> PlannedJob:
    learned: Pairs = ()
    memory: int | None
    if isinstance(spec.cpus, int) and not isinstance(spec.memory, str):  # nothing to learn
        cpus, memory = min(spec.cpus, total_cpus), spec.memory
        check_memory_fits(spec, memory, pool)  # a learned need is capped at the pool instead
    else:
        held = needs(spec, measured, total_cpus, pool)
        cpus, memory, learned = held.cpus, held.memory, held.learned
    check_gpus(spec, pool)
    refuse_doubled_knob(spec)
    name = safe_name(spec.id)
    output_dir = output_dir_of(options.output_root, spec.id)
    upstream = {need: output_dir_of(options.output_root, need) for need in spec.needs}
    knobs = standard_args(spec, options, output_dir)
    if spec.command is not None:
        argv = [*spec.command]
    else:
        argv = [python, spec.script or "", *spec.args_prefix, *knobs.flags]
    inputs_flag = next((f for f in spec.flags if canonical(f) == "inputs"), None)
    if inputs_flag and upstream:
        argv += [inputs_flag, *upstream.values()]
    # Overrides after the positionals: Hydra and OmegaConf read every `key=value` there.
    argv += [*spec.args, *param_args(spec), *knobs.overrides]
    argv += options.extra_args
    # cpus: a job bigger than the machine still runs, alone
    env = {
        "PYTHONUNBUFFERED": "1",
        **dict.fromkeys(THREAD_VARIABLES, str(cpus)),
        **knobs.env,
        **dict(spec.env),  # what the job sets itself wins over a detected variable
    }
    env.update(TRAIN_ORCH_OUTPUT_DIR=output_dir)
    env[JOB_ID_VAR] = spec.id
    env.update({needs_variable(need): path for need, path in upstream.items()})
    grace = spec.grace if spec.grace is not None else options.grace
    return PlannedJob(
        id=spec.id,
        argv=tuple(argv),
        cwd=".",
        env=tuple(env.items()),
        output_dir=output_dir,
        log_path=str(PurePath(log_dir, f"{name}.log")),
        retries=options.retries if options.retries is not None else spec.retries,
        retry=spec.retry,
        timeout=spec.timeout if spec.timeout is not None else options.timeout,
        grace=grace if grace is not None else DEFAULT_GRACE,
        cpus=cpus,
        secrets=_secrets(env, spec.redact, inherited_secrets, inherited_env),
        gpus=spec.gpus,
        resources=spec.resources,
        priority=spec.priority,
        gates=spec.gates,
        optional=spec.optional,
        tags=spec.tags,
        source=spec.script or "command",
        headline=spec.headline,
        expected_duration=expected_duration,
        needs=tuple(n for n in dict.fromkeys(spec.needs) if n in planned_ids),
        needs_outside=tuple(n for n in dict.fromkeys(spec.needs) if n not in planned_ids),
        script=spec.script,
        inputs=spec.inputs,
        cache=spec.cache,
        sweep=spec.sweep,
        sweep_flags=tuple((p.name, flag_for(spec, p.name)) for p in spec.sweep.params)
        if spec.sweep
        else (),
        memory_limit=spec.memory_limit if spec.memory_limit is not None else options.memory_limit,
        memory=memory,
        learned=learned,
        not_runnable=spec.error,
        register=spec.register,
        knobs=tuple(knobs.passed),
        knobs_missing=tuple(
            (name, knob_why(spec, name))
            for name in KNOB_NAMES
            if spec.command is None and knob_for(spec, name) is None
        ),
        promote=spec.promote,
    )


def _secrets(
    env: Mapping[str, str],
    listed: Sequence[str],
    inherited_secrets: tuple[str, ...],
    inherited_env: Mapping[str, str],
) -> tuple[str, ...]:
    """Values to mask for a job: its env's secrets, the inherited ones, and what it lists."""
    named = {k: inherited_env[k] for k in listed if k in inherited_env}
    own = secret_values({**named, **env}, listed)
    return tuple(sorted({*inherited_secrets, *own}, key=len, reverse=True))
