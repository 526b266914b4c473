"""Discovered scripts + config → one `JobSpec` per job id.

Config overrides discovery field by field, so a config entry for a discovered script only
needs the fields it changes. Matrices are expanded and ids whose files would clash are
marked here, so every later stage sees the final jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from orchestrator.config import Config, JobConfig
from orchestrator.discovery import inspect_script
from orchestrator.errors import ConfigError, did_you_mean
from orchestrator.jobs.file_names import mark_clashes
from orchestrator.jobs.matrices import expand_matrices
from orchestrator.models import DEFAULT_MAX_JOBS, DiscoveredScript, JobSpec


def merge(
    discovered: Iterable[DiscoveredScript],
    config: Config,
    base: Path,
    *,
    max_jobs: int = DEFAULT_MAX_JOBS,
) -> tuple[JobSpec, ...]:
    """One spec per job id: discovered scripts first (in discovery order), then config-only jobs.

    More than `max_jobs` once matrices are expanded is refused before they are.
    """
    specs: dict[str, JobSpec] = {
        s.id: s
        for s in (
            JobSpec(
                id=d.job_id,
                script=d.path,
                flags=d.flags,
                error=d.error,
                knobs=d.knobs,
                knob_notes=d.knob_notes,
                args_prefix=d.args_prefix,
                origin=(d.path,),
            )
            for d in discovered
        )
    }
    for job_id, job in config.jobs.items():
        base_spec = specs.get(job_id)
        if base_spec is None:
            if "script" not in job.fields and "command" not in job.fields:
                raise ConfigError(
                    job.path,
                    f"no 'script' or 'command', and no discovered script train_{job_id}.py",
                    line=job.line,
                    key=f"jobs.{job_id}",
                    hint=did_you_mean(job_id, specs),
                )
            base_spec = JobSpec(id=job_id)
        specs[job_id] = _apply(base_spec, config, job, base)
    for job_id, spec in specs.items():
        if job_id not in config.jobs:
            specs[job_id] = _apply(spec, config, None, base)
    return mark_clashes(expand_matrices(tuple(specs.values()), max_jobs=max_jobs))


#: Config keys that map one-to-one onto JobSpec fields.
SPEC_FIELDS = (
    "epochs",
    "folds",
    "seed",
    "retries",
    "optional",
    "tags",
    "enabled",
    "description",
    "headline",
    "timeout",
    "grace",
    "cpus",
    "memory",
    "memory_limit",
    "gpus",
    "resources",
    "priority",
    "gates",
    "needs",
    "redact",
    "inputs",
    "cache",
    "matrix",
    "sweep",
    "register",
    "promote",
)
#: Config keys that make up a job's RetryPolicy.
RETRY_FIELDS = {
    "retry_delay": "delay",
    "backoff": "backoff",
    "retry_max_delay": "max_delay",
    "retry_on": "on",
}


def _apply(spec: JobSpec, config: Config, job: JobConfig | None, base: Path) -> JobSpec:
    defaults = config.defaults
    fields = {**defaults, **(job.fields if job else {})}
    env = {**defaults.get("env", {}), **(job.fields.get("env", {}) if job else {})}
    changes: dict[str, object] = {}
    if "script" in fields:
        script = inspect_script(base / fields["script"], spec.id, fields["script"])
        changes.update(
            script=script.path,
            flags=script.flags,
            error=script.error,
            command=None,
            knobs=script.knobs,
            knob_notes=script.knob_notes,
            args_prefix=script.args_prefix,
        )
    if "command" in fields:
        changes.update(
            command=fields["command"],
            script=None,
            flags=(),
            error=None,
            knobs=(),
            knob_notes=(),
            args_prefix=(),
        )
    args = fields.get("args")
    if isinstance(args, dict):
        changes["params"] = tuple(args.items())
    elif args is not None:
        changes["args"] = args
    for name in SPEC_FIELDS:
        if name in fields:
            changes[name] = fields[name]
    retry = {key: fields[name] for name, key in RETRY_FIELDS.items() if name in fields}
    if retry:
        changes["retry"] = replace(spec.retry, **retry)
    if "flag_names" in fields:
        changes["flag_names"] = tuple(fields["flag_names"].items())
    if "knobs" in fields:
        changes["knob_level"] = fields["knobs"]
    if "args_prefix" in fields:
        changes["args_prefix"] = fields["args_prefix"]
    changes["env"] = tuple(env.items())
    # A key of `defaults:` is found as `defaults.<key>`, the way its error names it.
    where = {f"defaults.{key}": place for key, place in config.defaults_where.items()}
    if job is not None:
        changes["origin"] = (*spec.origin, job.origin)
        where.update(job.where)
    changes["locations"] = tuple((key, *place) for key, place in where.items())
    return replace(spec, **changes)  # type: ignore[arg-type]
