"""What the plan stage produces: exactly what will run, job by job, and the run as a whole.

`--dry-run` prints these values, and a run executes them unchanged.
"""

from __future__ import annotations

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models.settings import Gate, Promote, Register, RetryPolicy, Sweep
from orchestrator.models.specs import Knob, Pairs


@frozen_dataclass
class PlannedJob:
    """Exactly what will run for one job: the argv, where, with what env, logged where."""

    id: str
    argv: tuple[str, ...]
    cwd: str
    env: Pairs
    output_dir: str
    log_path: str
    retries: int
    retry: RetryPolicy
    timeout: float | None
    grace: float
    cpus: int
    priority: str
    gates: tuple[Gate, ...]
    optional: bool
    tags: tuple[str, ...]
    source: str
    headline: str | None = None
    #: Seconds the job took last time (from the previous summary), for longest-first order.
    expected_duration: float | None = None
    #: Jobs of this plan that must succeed before this one starts.
    needs: tuple[str, ...] = ()
    #: Needs left out of the plan by --no-deps: their outputs are used as they are on disk.
    needs_outside: tuple[str, ...] = ()
    #: The script (and `inputs:` globs) whose content is part of the job's fingerprint.
    script: str | None = None
    inputs: tuple[str, ...] = ()
    cache: bool = True
    #: Values never to show (env secrets): masked in headers, console, journal, summary.
    secrets: tuple[str, ...] = ()
    #: Ray resource requests beyond cpus (ignored by the local backend).
    gpus: float = 0.0
    resources: tuple[tuple[str, float], ...] = ()
    #: Set for a sweep: the job runs as trials, each with `sweep_flags` set.
    sweep: Sweep | None = None
    #: Each searched parameter's flag, as the script spells it.
    sweep_flags: Pairs = ()
    #: Set when the job cannot be started at all (e.g. its script does not parse).
    not_runnable: str | None = None
    #: How the standard settings given a value reach the script (flag, override, variable).
    knobs: tuple[Knob, ...] = ()
    #: (setting, why it does not reach the script) for the others.
    knobs_missing: Pairs = ()
    #: Bytes its processes may use together; past that it is stopped as out_of_memory.
    memory_limit: int | None = None
    #: Bytes of memory held while it runs: it starts only when they fit in `Plan.memory`
    #: (Ray: its `memory` request).
    memory: int | None = None
    #: The GPU devices an attempt holds, given by the ready queue as it starts (and set as
    #: its CUDA_VISIBLE_DEVICES); empty in the plan itself.
    gpu_devices: tuple[str, ...] = ()
    #: For each need set to `auto` (cpus, memory), where its value came from, as --dry-run
    #: shows it: ("memory", "auto: 812 MiB peak of run 20261129T161200Z + 20 %").
    learned: Pairs = ()
    #: Registered in MLflow's Model Registry when it passes (with tracking on).
    register: Register | None = None
    promote: Promote | None = None


@frozen_dataclass
class Plan:
    """The whole run, decided before anything starts; `--dry-run` prints this value."""

    jobs: tuple[PlannedJob, ...]
    output_root: str
    log_dir: str
    summary_dir: str
    max_workers: int
    #: CPU tokens shared by running jobs: a job starts only when its `cpus` fit.
    cpus: int
    #: Bytes shared by running jobs' `memory`; None: not counted here (Ray counts it).
    memory: int | None = None
    #: Where `memory` came from, as --dry-run says it ("--memory", "MemAvailable ...").
    memory_source: str = ""
    #: GPU devices lent to jobs' `gpus:` one whole device each; None: not counted here
    #: (no job asks for one, or Ray counts them).
    gpu_devices: tuple[str, ...] | None = None
    #: Where they came from ("--gpus", "CUDA_VISIBLE_DEVICES", "nvidia-smi -L").
    gpu_source: str = ""
    fail_fast: bool = False
    #: False: a failed quality gate is reported (`gate_failed`) but fails neither the run nor
    #: the jobs that need it, e.g. for a dispatch with fewer epochs than the gates assume.
    enforce_gates: bool = True
