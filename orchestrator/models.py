"""The values that flow through the pipeline, one stage to the next.

discover → DiscoveredScript; config + merge → JobSpec; plan → PlannedJob / Plan;
execute → Attempt / JobResult. All are frozen so a later stage can never change what an
earlier stage decided, and `--dry-run` shows exactly the plan a run executes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from typing import Any, Literal

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.usage import Usage

#: Flags that the orchestrator itself fills in, by their canonical spelling.
STANDARD_FLAGS = ("output_dir", "epochs", "folds", "seed")

#: The standard flags a script may spell its own way (see `orchestrator.knobs`).
KNOB_NAMES = ("output_dir", "epochs", "seed")

#: Job priorities, most urgent first (the four that seed job managers use).
PRIORITIES = ("critical", "high", "normal", "low")

Pairs = tuple[tuple[str, str], ...]
ParamValue = str | int | float | bool | tuple[str, ...]


class Status(str, enum.Enum):
    """A job's final state; also an attempt's outcome (succeeded/failed/timed_out/cancelled)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    GATE_FAILED = "gate_failed"
    #: A sweep trial stopped early because Optuna's pruner judged it hopeless.
    PRUNED = "pruned"
    #: Not run: unchanged since its last success, whose outputs are still in place.
    CACHED = "cached"
    #: Not run: `--resume`/`--rerun-failed` kept the success of an earlier run.
    REUSED = "reused"
    #: Failed with a process killed for memory: by the kernel's OOM killer, or by us for
    #: going over its `memory_limit`.
    OUT_OF_MEMORY = "out_of_memory"

    @property
    def ok(self) -> bool:
        """Counts as success: for the exit code and for the jobs that need this one."""
        return self in {Status.SUCCEEDED, Status.CACHED, Status.REUSED}

    def __str__(self) -> str:
        return self.value


@frozen_dataclass
class Gate:
    """A quality gate on one metric, e.g. `accuracy >= 0.9`."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@frozen_dataclass
class Promote:
    """`promote: {name, artifact}`: where a job's model goes once it succeeds and passes
    every gate (`models/<name>/<version>/` under the output root)."""

    name: str
    #: A path relative to the job's output dir: a file or a directory.
    artifact: str = "model.joblib"


@frozen_dataclass
class RetryPolicy:
    """When and how long to wait before another attempt.

    The delay grows by `backoff` each attempt up to `max_delay`, with ±20% jitter so
    jobs that failed together (a flaky shared service) do not retry in lockstep.
    """

    delay: float = 2.0
    backoff: float = 1.0
    max_delay: float = 60.0
    #: The attempt statuses that are retried (out_of_memory only if named: the same memory
    #: is likely to run out again).
    on: tuple[str, ...] = ("failed", "timed_out")

    def delay_before(self, attempt: int, jitter: float) -> float:
        """Seconds to wait before `attempt` (2, 3, ...); `jitter` is a draw in [-1, 1]."""
        base = min(self.max_delay, self.delay * self.backoff ** (attempt - 2))
        return max(0.0, base * (1 + 0.2 * jitter))


@frozen_dataclass
class SweepParam:
    """One searched parameter: a float or int range, or a list of choices."""

    name: str
    kind: str  # "float", "int" or "choices"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[str, ...] = ()


@frozen_dataclass
class Sweep:
    """An Optuna study run as trials of one job (config `sweep:`)."""

    metric: str
    direction: str = "maximize"
    n_trials: int = 10
    timeout: float | None = None
    params: tuple[SweepParam, ...] = ()
    sampler: str = "tpe"
    pruner: str = "median"
    parallel: int = 1
    #: A digest of the definition: the study is named after it, so a change starts anew.
    digest: str = ""


@frozen_dataclass
class Register:
    """Config `register:`: the job's model into the MLflow Model Registry when it passes."""

    name: str
    #: The file in the job's output dir that is the model.
    artifact: str = "model.joblib"
    #: Moved to the new version (None: no alias is moved).
    alias: str | None = "candidate"


@frozen_dataclass
class TrackingConfig:
    """Config `tracking: {mlflow: ...}`: experiment tracking, before flags and env apply."""

    experiment: str | None = None
    tracking_uri: str | None = None
    #: The MLflow UI's address, for links, when the tracking URI is not an http(s) one.
    ui_url: str | None = None
    #: Artifacts of one job past this many bytes are not uploaded (the log always is).
    max_artifact_bytes: int = 100 << 20
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()


@frozen_dataclass
class Knob:
    """How a script takes one standard setting in its own dialect: `--num_train_epochs`
    (a flag), `trainer.max_epochs` (an override, `key=value`) or `OUTPUT_DIR` (a variable)."""

    #: One of KNOB_NAMES.
    name: str
    spelling: str
    #: "flag", "override" or "env".
    style: str
    #: Where the mapping comes from: "transformers TrainingArguments", "hydra", "flag_names".
    source: str
    #: "certain" (passed) or "likely" (passed only with `knobs: likely`).
    confidence: str


@frozen_dataclass
class DiscoveredScript:
    """A `train_*.py` found on disk, with the flags its source declares."""

    path: str
    job_id: str
    flags: tuple[str, ...] = ()
    #: Why the script cannot run (e.g. a syntax error); such a script is listed, never run.
    error: str | None = None
    #: Its standard settings under other names, found by its CLI library's conventions.
    knobs: tuple[Knob, ...] = ()
    #: What its CLI needs before any flag (LightningCLI's `fit`).
    args_prefix: tuple[str, ...] = ()
    #: (knob, why it is not mapped): a look-alike rejected, a config chosen at run time.
    knob_notes: Pairs = ()


#: `memory: auto`, `cpus: auto`: the need learned from the job's last measured run.
AUTO = "auto"
Auto = Literal["auto"]


@frozen_dataclass
class JobSpec:
    """One job as the user defined it: discovery merged with every config file."""

    id: str
    script: str | None = None
    command: tuple[str, ...] | None = None
    flags: tuple[str, ...] = ()
    error: str | None = None
    args: tuple[str, ...] = ()
    params: tuple[tuple[str, ParamValue], ...] = ()
    epochs: int | None = None
    folds: int | None = None
    seed: int | None = None
    optional: bool = False
    tags: tuple[str, ...] = ()
    retries: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    grace: float | None = None
    cpus: int | Auto = 1
    #: Bytes of memory the job holds while it runs, like its `cpus` (None: none asked).
    memory: int | Auto | None = None
    #: Bytes the job's processes may use together (None: no limit).
    memory_limit: int | None = None
    gpus: float = 0.0
    resources: tuple[tuple[str, float], ...] = ()
    priority: str = "normal"
    gates: tuple[Gate, ...] = ()
    needs: tuple[str, ...] = ()
    #: Env var names whose values are secrets, besides those named like one (TOKEN, KEY...).
    redact: tuple[str, ...] = ()
    #: Parameter combinations: the job expands into one job per combination.
    matrix: tuple[Pairs, ...] = ()
    sweep: Sweep | None = None
    register: Register | None = None
    #: Globs of files whose content decides, with the script's, whether the job changed.
    inputs: tuple[str, ...] = ()
    cache: bool = True
    env: Pairs = ()
    enabled: bool = True
    description: str = ""
    flag_names: Pairs = ()
    knobs: tuple[Knob, ...] = ()
    knob_notes: Pairs = ()
    #: "certain" passes only certain knobs; "likely" (config `knobs:`) passes likely ones too.
    knob_level: str = "certain"
    #: Before every flag: a subcommand (`fit`), detected or from config `args_prefix:`.
    args_prefix: tuple[str, ...] = ()
    headline: str | None = None
    promote: Promote | None = None
    #: Where the job came from, for messages: a script path and/or "configs/x.yaml:12".
    origin: tuple[str, ...] = ()
    #: Config key → (file, line) where it was set, for errors found after loading.
    locations: tuple[tuple[str, str, int], ...] = ()


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


@frozen_dataclass
class Attempt:
    """One execution of a job's argv."""

    number: int
    started_at: float
    duration: float
    status: Status
    exit_code: int | None = None
    #: The signal that ended the child, when it died of one.
    signal: int | None = None
    #: Where it ran (a Ray node id), when not on this machine.
    node: str | None = None
    #: What went wrong outside the job itself, e.g. "node_lost" (its Ray worker died).
    error: str | None = None
    #: What its processes used, where it was measured.
    usage: Usage | None = None
    #: The GPU devices it ran on (its CUDA_VISIBLE_DEVICES), when it held any.
    gpu_devices: tuple[str, ...] = ()


@frozen_dataclass
class ReusedResult:
    """A result that stands without running the job (cached, or reused on --resume)."""

    status: Status
    reason: str
    metrics: tuple[tuple[str, float], ...] = ()
    #: The summary or run the result comes from.
    from_run: str | None = None


@frozen_dataclass
class JobResult:
    """A job's outcome after all its attempts."""

    job: PlannedJob
    status: Status
    attempts: tuple[Attempt, ...] = ()
    metrics: tuple[tuple[str, float], ...] = ()
    reason: str | None = None
    from_run: str | None = None
    #: For a sweep: best value and params, trial counts, importances (JSON-ready).
    sweep: Mapping[str, Any] | None = None


#: Jobs the config may expand to (`--max-jobs`): 10,000 plan in about a second; more is
#: likely a matrix axis or a range that is not what was meant, so it needs confirming.
DEFAULT_MAX_JOBS = 10_000


@frozen_dataclass
class RunOptions:
    """Everything the command line (or `TRAIN_ORCH_*` env) asked for; built only by cli/."""

    epochs: int | None = None
    folds: int | None = None
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    parallel: bool = False
    max_workers: int | None = None
    max_jobs: int = DEFAULT_MAX_JOBS
    retries: int | None = None
    configs: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    dry_run: bool = False
    list_only: bool = False
    auto_discover: bool = True
    discover_roots: tuple[str, ...] = ()
    allow_partial_success: bool = False
    #: "enforce" or "report" (see `Plan.enforce_gates`).
    gates: str = "enforce"
    fail_fast: bool = False
    timeout: float | None = None
    grace: float | None = None
    cpus: int | None = None
    #: --memory-limit: bytes, for the jobs that set no `memory_limit` of their own.
    memory_limit: int | None = None
    #: --memory: bytes shared by running jobs' `memory:` (None: what is available at start).
    memory: int | None = None
    #: --gpus: the devices lent to jobs' `gpus:` (None: CUDA_VISIBLE_DEVICES, else detected).
    gpus: tuple[str, ...] | None = None
    shard: str | None = None
    #: The exact jobs of this shard, as `plan-shards` decided them once for every runner.
    shard_jobs: tuple[str, ...] | None = None
    durations: str | None = None
    no_deps: bool = False
    force: tuple[str, ...] = ()
    resume: str | None = None
    rerun_failed: str | None = None
    optuna_storage: str | None = None
    #: --mlflow: None as the config says, "off", "" (on, the default store) or a URI.
    mlflow: str | None = None
    mlflow_experiment: str | None = None
    mlflow_ui_url: str | None = None
    backend: str = "local"
    ray_address: str | None = None
    ray_ship_outputs: bool = False
    allow_empty: bool = False
    journal: bool = True
    verbosity: int = 0
    output_root: str = "."
    output_format: str = "table"
