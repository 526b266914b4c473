"""Whether a run is tracked in MLflow, and where: config, flags and env, in one place.

Pure: the config's `tracking:`, the options and the environment in, a value out. The
standard `MLFLOW_TRACKING_URI` supplies the address only; it never turns tracking on,
or every user with it in their shell profile would start sending runs somewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePath

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import RunOptions, TrackingConfig

#: Under the output root: the embedded store and its artifacts, beside results/ and logs/.
STORE_FILE = "mlruns.db"
ARTIFACT_DIR = "mlartifacts"


@frozen_dataclass
class Tracking:
    """A run's tracking, resolved: every field final."""

    uri: str
    experiment: str
    config: TrackingConfig
    #: Where new experiments keep artifacts: set for the embedded store only (a server
    #: decides its own), so nothing is written outside the output root.
    artifact_location: str | None = None

    @property
    def embedded(self) -> bool:
        return self.artifact_location is not None

    @property
    def local(self) -> bool:
        """A store in a file here (SQLite, a file store): opening it is this machine's work,
        with no server that could leave a job waiting on the network."""
        scheme, sep, _ = self.uri.partition(":")
        return not sep or scheme in ("sqlite", "file")

    @property
    def ui_url(self) -> str | None:
        """The UI's address for links: configured, or the server's own when it is one."""
        if self.config.ui_url:
            return self.config.ui_url.rstrip("/")
        if self.uri.startswith(("http://", "https://")):
            return self.uri.rstrip("/")
        return None


def resolve(
    config: TrackingConfig | None,
    options: RunOptions,
    environ: Mapping[str, str],
    root: Path,
    project: str,
) -> Tracking | None:
    """The run's tracking, or None when nothing turned it on (or `--mlflow off` did).

    The URI: `--mlflow URI`, then `MLFLOW_TRACKING_URI`, then the config's
    `tracking_uri`, then a SQLite store under the output root. The environment beats the
    file because it is where CI says which server this runner talks to.
    """
    if options.mlflow == "off":
        return None
    asked = options.mlflow is not None or options.mlflow_experiment is not None
    if config is None and not asked:
        return None
    config = config or TrackingConfig()
    if options.mlflow_ui_url:
        config = TrackingConfig(
            config.experiment,
            config.tracking_uri,
            options.mlflow_ui_url,
            config.max_artifact_bytes,
            config.include,
            config.exclude,
        )
    uri = options.mlflow or environ.get("MLFLOW_TRACKING_URI") or config.tracking_uri
    experiment = (
        options.mlflow_experiment
        or environ.get("MLFLOW_EXPERIMENT_NAME")
        or config.experiment
        or project
    )
    if uri:
        return Tracking(uri, experiment, config)
    absolute = root.absolute()
    return Tracking(
        f"sqlite:///{PurePath(absolute, STORE_FILE).as_posix()}",
        experiment,
        config,
        artifact_location=PurePath(absolute, ARTIFACT_DIR).as_uri(),
    )
