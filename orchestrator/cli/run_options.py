"""The main command's flags as the pipeline's `RunOptions`.

Pure: a mapping of click's parameter values and the project in, a value out. Paths the
user typed are relative to where they typed them; the pipeline reads them from the
project root, so they are rebased here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.models import RunOptions

if TYPE_CHECKING:
    from orchestrator.project import Project


def run_options(params: Mapping[str, Any], project: Project) -> RunOptions:
    """The options; paths the user typed are turned from theirs into the project root's."""
    typed = project.typed
    return RunOptions(
        epochs=params["epochs"],
        folds=params["folds"],
        only=params["only"],
        exclude=params["exclude"],
        parallel=params["parallel"],
        max_workers=params["max_workers"],
        max_jobs=params["max_jobs"],
        retries=params["retries"],
        configs=tuple(map(typed, params["configs"])),
        profiles=params["profiles"],
        extra_args=params["extra_args"],
        dry_run=params["dry_run"],
        list_only=params["list_only"],
        auto_discover=not params["no_auto_discover"],
        discover_roots=tuple(map(typed, params["discover_roots"])),
        allow_partial_success=params["allow_partial_success"],
        allow_empty=params["allow_empty"],
        journal=not params["no_journal"],
        gates=params["gates"],
        fail_fast=params["fail_fast"],
        timeout=params["timeout"],
        grace=params["grace"],
        cpus=params["cpus"],
        memory_limit=params["memory_limit"],
        memory=params["memory"],
        gpus=params["gpus"],
        no_deps=params["no_deps"],
        force=params["force"],
        resume=_run_named(params["resume"], typed),
        rerun_failed=_run_named(params["rerun_failed"], typed),
        optuna_storage=params["optuna_storage"],
        mlflow=_mlflow(params["mlflow"], typed),
        mlflow_experiment=params["mlflow_experiment"],
        mlflow_ui_url=params["mlflow_ui_url"],
        notify=params["notify"],
        backend=params["backend"],
        ray_address=params["ray_address"],
        ray_ship_outputs=params["ray_ship_outputs"],
        shard=params["shard"],
        shard_jobs=params["shard_jobs"],
        durations=params["durations"] and typed(params["durations"]),
        verbosity=-1 if params["quiet"] else params["verbose"],
        output_root=typed(params["output_root"]) if params["output_root"] else ".",
        output_format=params["output_format"],
    )


def _run_named(source: str | None, typed: Callable[[str], str]) -> str | None:
    """`--resume`'s run: the latest of the output root, or a file typed from here."""
    return typed(source) if source and source != "latest" else source


#: `--mlflow` alone, or TRAIN_ORCH_MLFLOW set to one of these: on, at the default URI.
_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no"}
#: Tracking URIs that are not paths though they have no "://".
_SCHEMES = {"databricks", "databricks-uc"}


def _mlflow(value: str | None, typed: Callable[[str], str]) -> str | None:
    """`--mlflow`'s value: "" (on, default URI), "off", or a URI; a path typed from here
    is rebased like every other path (`--mlflow ./store.db` is not a URI scheme)."""
    if value is None:
        return None
    if not value.strip() or value.lower() in _ON:
        return ""
    if value.lower() in _OFF:
        return "off"
    if "://" in value or value in _SCHEMES:
        return value
    return "file://" + str(Path(typed(value)).absolute())
