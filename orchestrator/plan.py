"""Turn job specs into the exact commands a run executes. Pure: no processes, no files.

Everything that varies by machine (interpreter, CPU count) is passed in, so the same inputs
always give the same plan, `--dry-run` prints precisely what a run would start, and tests
compare plans as plain values.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from orchestrator.discovery import canonical
from orchestrator.errors import ConfigError
from orchestrator.jobs import SAME_FILES, defined_at, is_clash, mark_clashes, safe_name
from orchestrator.models import (
    KNOB_NAMES,
    PRIORITIES,
    JobSpec,
    Knob,
    Pairs,
    ParamValue,
    Plan,
    PlannedJob,
    RunOptions,
)
from orchestrator.resources import Pool, check_gpus, check_memory_fits, needs
from orchestrator.run_summary.measured import Measured
from orchestrator.secrets import secret_values

__all__ = [  # safe_name lives in jobs/ (merge refuses ids that share one); trial_job.py uses it
    "DEFAULT_GRACE",
    "JOB_ID_VAR",
    "THREAD_VARIABLES",
    "build_plan",
    "declared_flag",
    "flag_for",
    "knob_for",
    "knob_why",
    "needs_variable",
    "output_dir_of",
    "refuse_clashes",
    "safe_name",
    "start_order",
]

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
    name = safe_name(spec.id)
    output_dir = output_dir_of(options.output_root, spec.id)
    upstream = {need: output_dir_of(options.output_root, need) for need in spec.needs}
    knobs = _standard_args(spec, options, output_dir)
    if spec.command is not None:
        argv = [*spec.command]
    else:
        argv = [python, spec.script or "", *spec.args_prefix, *knobs.flags]
    inputs_flag = next((f for f in spec.flags if canonical(f) == "inputs"), None)
    if inputs_flag and upstream:
        argv += [inputs_flag, *upstream.values()]
    # Overrides after the positionals: Hydra and OmegaConf read every `key=value` there.
    argv += [*spec.args, *_param_args(spec), *knobs.overrides]
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


class _KnobArgs:
    """The standard settings in a script's dialect: flags, `key=value` overrides, variables."""

    __slots__ = ("env", "flags", "overrides", "passed")

    def __init__(self) -> None:
        self.passed: list[Knob] = []
        self.flags: list[str] = []
        self.overrides: list[str] = []
        self.env: dict[str, str] = {}


def _standard_args(spec: JobSpec, options: RunOptions, output_dir: str) -> _KnobArgs:
    """Output dir, epochs, folds, seed: only those the script takes, each as it takes it.

    The command line overrides config for epochs and folds: a CI form's "epochs: 3" means
    "a quick run of everything", whatever each job's own default is.
    """
    values: dict[str, object] = {
        "output_dir": output_dir,
        "epochs": options.epochs if options.epochs is not None else spec.epochs,
        "folds": options.folds if options.folds is not None else spec.folds,
        "seed": spec.seed,
    }
    found = _KnobArgs()
    if spec.command is not None:
        return found
    for name, value in values.items():
        knob = knob_for(spec, name)
        if knob is None or value is None:
            continue
        found.passed.append(knob)
        if knob.style == "override":
            found.overrides.append(f"{knob.spelling}={override_value(str(value))}")
        elif knob.style == "env":
            found.env[knob.spelling] = str(value)
        else:
            found.flags += [knob.spelling, str(value)]
    return found


def knob_for(spec: JobSpec, name: str) -> Knob | None:
    """How the job's script takes a standard setting, or None if it is not passed.

    `flag_names` in config wins, then a literal standard flag the script declares, then
    what detection found: certain mappings, and likely ones where the job says
    `knobs: likely`. Nothing else: a flag a script does not accept fails its run.
    """
    mapped = dict(spec.flag_names).get(name)
    if mapped is not None:
        return Knob(name, mapped, "flag", "flag_names", "certain")
    declared = next((f for f in spec.flags if canonical(f) == name), None)
    if declared is not None:
        return Knob(name, declared, "flag", "declared", "certain")
    return next(
        (
            k
            for k in spec.knobs
            if k.name == name and (k.confidence == "certain" or spec.knob_level == "likely")
        ),
        None,
    )


def knob_why(spec: JobSpec, name: str) -> str:
    """Why a script takes no value for a setting: a likely mapping the job did not opt
    into, a rejected look-alike, or nothing found."""
    likely = next((k for k in spec.knobs if k.name == name), None)
    notes = [text for knob, text in spec.knob_notes if knob == name]
    if likely is not None:
        notes.insert(0, f"{likely.spelling} is likely ({likely.source}): `knobs: likely` passes it")
    return "; ".join(notes) or "none found"


def declared_flag(spec: JobSpec, name: str) -> str | None:
    """The flag a script takes a standard setting by, or None (also for an override)."""
    knob = knob_for(spec, name)
    return knob.spelling if knob is not None and knob.style == "flag" else None


#: What Hydra's override grammar (and OmegaConf's dotlist) take unquoted. A pattern, not a
#: compiled one: every command imports this module, few plan an override.
_PLAIN_VALUE = r"[A-Za-z0-9_./\-]+"


def override_value(value: str) -> str:
    """A value as Hydra's and OmegaConf's override parsers read it back unchanged: a dir
    with a space, a quote or `=` in it is quoted."""
    if re.fullmatch(_PLAIN_VALUE, value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _param_args(spec: JobSpec) -> list[str]:
    """`{max_depth: 4, verbose: true}` → `--max-depth 4 --verbose` (or as the script spells it)."""
    args: list[str] = []
    for key, value in spec.params:
        args += _flag_value(flag_for(spec, key), value)
    return args


def flag_for(spec: JobSpec, key: str) -> str:
    """The flag for a parameter name: as the script declares it, else `--name-with-dashes`."""
    declared = next((f for f in spec.flags if canonical(f) == canonical(key)), None)
    return declared or (key if key.startswith("-") else "--" + key.replace("_", "-"))


def _flag_value(flag: str, value: ParamValue) -> list[str]:
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, tuple):
        return [flag, *value]
    return [flag, str(value)]
