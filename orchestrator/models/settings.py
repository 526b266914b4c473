"""What a job's config keys become: gates, retries, a sweep, promotion, registration.

Produced by the config stage (`orchestrator/config/`), carried on `JobSpec` and, as far
as a run needs them, on `PlannedJob`.
"""

from __future__ import annotations

from orchestrator.frozen_dataclass import frozen_dataclass


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
