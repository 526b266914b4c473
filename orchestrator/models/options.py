"""What the command line (or `TRAIN_ORCH_*` env) asked for: one value, built only by cli/."""

from __future__ import annotations

from orchestrator.frozen_dataclass import frozen_dataclass

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
    #: --no-notify: the config's notify: targets are not told (a dry run never tells them).
    notify: bool = True
    backend: str = "local"
    ray_address: str | None = None
    ray_ship_outputs: bool = False
    allow_empty: bool = False
    journal: bool = True
    verbosity: int = 0
    output_root: str = "."
    output_format: str = "table"
