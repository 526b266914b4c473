"""Config files → one merged `Config`: each file read, checked against the key table,
and laid over the files before it."""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Iterable, Mapping
from dataclasses import field
from pathlib import Path

from orchestrator.config.document import TOP_LEVEL, Document, KeyPath, Value, is_known_top_level
from orchestrator.config.keys import COMMON_FIELDS, JOB_FIELDS, Key
from orchestrator.config.notify import NotifyTarget, notify
from orchestrator.config.tracking import tracking
from orchestrator.config.validate import text, type_name
from orchestrator.config.yaml_positions import parse
from orchestrator.errors import ConfigError, did_you_mean
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import DEFAULT_MAX_JOBS, TrackingConfig


@frozen_dataclass
class JobConfig:
    """One job's fields as a config file set them, with where the job was defined."""

    fields: Mapping[str, Value]
    path: str
    line: int | None
    #: The file and line each field was set on, for errors found after loading (`needs`).
    where: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@frozen_dataclass
class Config:
    """All config files merged: later files override earlier ones, field by field."""

    defaults: Mapping[str, Value] = field(default_factory=dict)
    jobs: Mapping[str, JobConfig] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    #: The file and line each of `defaults` was set on, for errors found after loading.
    defaults_where: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: `tracking:` as the last file that has one sets it (None there: off).
    tracking: TrackingConfig | None = None
    #: The last file's `notify:` that has one (a profile can replace it, `[]` silences it).
    notify: tuple[NotifyTarget, ...] = ()


# ---------------------------------------------------------------------------- loading
def load_configs(
    paths: Iterable[Path],
    base: Path,
    *,
    explicit: Iterable[Path] = (),
    max_jobs: int = DEFAULT_MAX_JOBS,
) -> Config:
    """Read every config file in order; each later file overrides the earlier ones.

    A profile (a file with a top-level `profile:` key) found among `paths` is passed over:
    it applies only when asked for (`--profile`, `--config`), which are the `explicit` ones.
    A matrix of more than `max_jobs` combinations is refused before it is expanded.
    """
    defaults: dict[str, Value] = {}
    defaults_where: dict[str, tuple[str, int]] = {}
    jobs: dict[str, JobConfig] = {}
    files: list[str] = []
    tracked: TrackingConfig | None = None
    targets: tuple[NotifyTarget, ...] = ()
    asked = {p.resolve() for p in explicit}
    for path in paths:
        display = _display(path, base)
        doc = _read(path, display)
        doc.max_jobs = max_jobs
        if _is_profile(doc) and path.resolve() not in asked:
            continue
        file_defaults, file_jobs = _validate(doc, base)
        if isinstance(doc.data, dict) and "tracking" in doc.data:
            tracked = tracking(doc, ("tracking",), doc.data["tracking"])
        if isinstance(doc.data, dict) and "notify" in doc.data:
            targets = notify(doc, ("notify",), doc.data["notify"])
        defaults.update(file_defaults)
        defaults_where.update(_where(doc, ("defaults",), file_defaults))
        for job_id, job in file_jobs.items():
            previous = jobs.get(job_id)
            if previous:
                merged = {**previous.fields, **job.fields}
                where = {**previous.where, **job.where}
                jobs[job_id] = JobConfig(merged, job.path, job.line, where)
            else:
                jobs[job_id] = job
        files.append(display)
    return Config(defaults, jobs, tuple(files), defaults_where, tracked, targets)


def _is_profile(doc: Document) -> bool:
    return isinstance(doc.data, dict) and "profile" in doc.data


def config_files(
    config_dir: Path, extra: Iterable[str], base: Path
) -> tuple[list[Path], list[Path]]:
    """All files in load order (`configs/*.yaml` by name, then each `--config FILE`),
    and the ones asked for explicitly."""
    found = (
        sorted(
            path
            for path in [*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")]
            # Not the hidden ones, as a shell's `*.yaml` would not: an editor's lock
            # (Emacs's `.#jobs.yaml`, a symlink to nowhere) or macOS's `._jobs.yaml` beside
            # a config failed every run while the file was open, or after an unzip.
            if not path.name.startswith(".")
        )
        if config_dir.is_dir()
        else []
    )
    explicit = []
    for name in extra:
        path = Path(name) if Path(name).is_absolute() else base / name
        if name == "-":  # `generate-jobs | run-all-training --config -`
            path = Path("/dev/stdin")
        # Not `is_file()`: `--config <(generate-jobs)` is a pipe, and reads as well.
        if not path.exists():
            raise ConfigError(name, "config file not found")
        if path.is_dir():
            raise ConfigError(name, "is a directory, not a config file")
        explicit.append(path)
    return [*found, *explicit], explicit


def _display(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read(path: Path, display: str) -> Document:
    try:
        text = _read_text(path, display)
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            display, f"not UTF-8 text ({exc.reason} at byte {exc.start})", line=line
        ) from None
    except OSError as exc:
        raise ConfigError(display, f"cannot read: {exc.strerror}") from None
    return parse(display, text)


#: Far above any config (10,000 jobs take under 1 MiB; a config padded with comments to
#: 10 MB still loads), far below a data set `--config` named by mistake, or `/dev/zero`,
#: which took minutes and gigabytes, or forever.
MAX_CONFIG_BYTES = 64 << 20


def _read_text(path: Path, display: str) -> str:
    with path.open("rb") as handle:
        fd = handle.fileno()
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            data = b"" if info.st_size > MAX_CONFIG_BYTES else handle.read()
            size = max(info.st_size, len(data))
        else:
            data = _drain(fd)
            size = len(data)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(display, f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config file")
    # Universal newlines, as text mode reads them.
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _drain(fd: int) -> bytes:
    """A pipe (`--config <(producer)`, a FIFO) is read in waits of a fraction of a second.
    A Ctrl-C that lands just before a blocking read would otherwise go unheard until the
    producer writes: CPython runs a signal's handler between bytecodes, and a read blocked
    in C has none. A wait that times out comes back to them."""
    chunks: list[bytes] = []
    received = 0
    while True:
        ready, _, _ = select.select([fd], [], [], 0.25)
        if ready:
            chunk = os.read(fd, 1 << 16)
            chunks.append(chunk)
            received += len(chunk)
            if not chunk or received > MAX_CONFIG_BYTES:  # the caller refuses what is over
                return b"".join(chunks)


def _validate(doc: Document, base: Path) -> tuple[dict[str, Value], dict[str, JobConfig]]:
    data = doc.data
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise doc.error(
            (), f"expected a mapping with 'defaults:' and 'jobs:', got {type_name(data)}"
        )
    for key in data:
        if not is_known_top_level(str(key)):
            raise doc.error((str(key),), "unknown top-level key", did_you_mean(str(key), TOP_LEVEL))
    if "profile" in data:
        text(doc, ("profile",), data["profile"])
    defaults = _fields(doc, ("defaults",), data.get("defaults"), COMMON_FIELDS)
    raw_jobs = data.get("jobs") or {}
    if not isinstance(raw_jobs, dict):
        raise doc.error(
            ("jobs",), f"expected a mapping of job id → definition, got {type_name(raw_jobs)}"
        )
    jobs: dict[str, JobConfig] = {}
    for job_id, raw in raw_jobs.items():
        keys = ("jobs", str(job_id))
        if problem := _job_id_problem(str(job_id)):
            raise doc.error(keys, problem)
        fields = _fields(doc, keys, raw if raw is not None else {}, JOB_FIELDS)
        if "script" in fields and "command" in fields:
            raise doc.error(keys, "set either 'script' or 'command', not both")
        if "script" in fields and not (base / fields["script"]).is_file():
            raise doc.error((*keys, "script"), f"script not found: {fields['script']}")
        pos = doc.positions.get(keys)
        where = _where(doc, keys, fields)
        jobs[str(job_id)] = JobConfig(fields, doc.path, pos.line if pos else None, where)
    return defaults, jobs


def _job_id_problem(job_id: str) -> str | None:
    if not job_id.strip() or any(ord(c) < 32 or ord(c) == 127 for c in job_id):
        return "a job id must be printable text (no NUL or control chars)"
    if job_id != job_id.strip():
        # `--only spaced` and `needs: [spaced]` would not find it, nor a reader its row.
        return f"a job id must not start or end with spaces: {job_id!r}"
    return None


def _where(doc: Document, keys: KeyPath, fields: Mapping[str, Value]) -> dict[str, tuple[str, int]]:
    return {name: (doc.path, doc.positions[(*keys, name)].line) for name in fields}


def _fields(
    doc: Document, keys: KeyPath, raw: Value, schema: Mapping[str, Key]
) -> dict[str, Value]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise doc.error(keys, f"expected a mapping, got {type_name(raw)}")
    fields: dict[str, Value] = {}
    for name, value in raw.items():
        field_keys = (*keys, str(name))
        key = schema.get(str(name))
        if key is None:
            raise doc.error(field_keys, "unknown key", did_you_mean(str(name), schema))
        fields[str(name)] = key.check(doc, field_keys, value)
    return fields
