"""Merge discovered scripts with config, then apply `--only`/`--exclude`.

Config overrides discovery field by field, so a config entry for a discovered script only
needs the fields it changes. A job's id also names its files (`safe_name`), so the merge
marks ids that would share them.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.config import Config, JobConfig, Value
from orchestrator.discovery import inspect_script
from orchestrator.errors import ConfigError, OrchestratorError, SelectionError, did_you_mean
from orchestrator.models import DEFAULT_MAX_JOBS, DiscoveredScript, JobSpec, Pairs


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
            JobSpec(id=d.job_id, script=d.path, flags=d.flags, error=d.error, origin=(d.path,))
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
        specs[job_id] = _apply(base_spec, config.defaults, job, base)
    for job_id, spec in specs.items():
        if job_id not in config.jobs:
            specs[job_id] = _apply(spec, config.defaults, None, base)
    return mark_clashes(expand_matrices(tuple(specs.values()), max_jobs=max_jobs))


# ---------------------------------------------------------------------------- file names
#: Besides letters and digits (of any script) and their combining marks, what a job's
#: file name keeps; anything else becomes `_`: no `/`, NUL, space, shell or Windows
#: metacharacter, nor an invisible (format) character.
_KEPT = frozenset("_.@=+,-")
#: Longest file-name stem (UTF-8 bytes) used for a job; longer ids keep a prefix and a hash
#: of the whole id. The stem gets `_results` or `.log`, and a file name is 255 bytes at most.
MAX_NAME = 100


@functools.lru_cache(maxsize=1 << 16)  # per job it is asked for its log, dir, needs, clashes
def safe_name(job_id: str) -> str:
    """A job id as a file name: `logs/<name>.log`, `results/<name>_results`.

    No separators, no `..`, no NUL, not too long, so nothing lands outside its dir and every
    file system accepts it. Letters of any script are kept (`модель` stays `модель`), so
    ids in other alphabets do not all fold into `______`; ids that still share a name are
    refused by `mark_clashes`.
    """
    name = "".join(ch if _kept(ch) else "_" for ch in unicodedata.normalize("NFC", job_id))
    if len(name.encode()) > MAX_NAME:
        digest = hashlib.sha256(job_id.encode(errors="surrogatepass")).hexdigest()[:12]
        head = name.encode()[: MAX_NAME - 13].decode(errors="ignore")
        name = f"{head}-{digest}"
    return f"_{name}" if name.startswith(".") or not name else name


def _kept(ch: str) -> bool:
    return ch.isalnum() or ch in _KEPT or unicodedata.category(ch) in {"Mn", "Mc"}


def name_key(job_id: str) -> str:
    """What decides whether two jobs' files are the same file: their names, compared as a
    case-insensitive file system (macOS, Windows, an artifact unzipped there) compares them."""
    return unicodedata.normalize("NFC", safe_name(job_id).casefold())


def name_clashes(ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each id whose file names another id's would share → those other ids.

    Two such jobs would write one log and one results dir: interleaved output, and one
    reported with the other's metrics (passing its gates with them).
    """
    groups: dict[str, list[str]] = {}
    for job_id in ids:
        groups.setdefault(name_key(job_id), []).append(job_id)
    return {
        job_id: _without_one(group, job_id)
        for group in groups.values()
        if len(group) > 1
        for job_id in group
    }


def _without_one(group: list[str], job_id: str) -> tuple[str, ...]:
    """The others of a group: a job defined twice (a matrix combination also written as
    a job of its own) has itself among them."""
    others = list(group)
    others.remove(job_id)
    return tuple(others)


#: How a clash note starts: `--list` shows the note, a plan refuses any job carrying it.
SAME_FILES = "shares its log and results dir with"


#: A sweep's trial as a file name key: `execute/sweep.py` names trial 3 of `sw` `sw[trial=3]`,
#: whose key is `sw_trial=3_`.
_TRIAL_KEY = re.compile(r"(.*)_trial=([0-9]+)_")


def trial_clashes(specs: Sequence[JobSpec]) -> dict[str, tuple[str, ...]]:
    """Each job whose files a sweep's trial would share → that trial's id.

    A study's trials are numbered on from one run to the next, so any number counts.
    """
    sweeps = {name_key(s.id): s.id for s in specs if s.sweep}
    clashes: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        match = _TRIAL_KEY.fullmatch(name_key(spec.id)) if sweeps else None
        sweep = sweeps.get(match.group(1)) if match else None
        if match and sweep is not None:
            clashes[spec.id] = (f"{sweep}[trial={int(match.group(2))}]",)
    return clashes


def mark_clashes(specs: Sequence[JobSpec]) -> tuple[JobSpec, ...]:
    """Each job whose file names another's would share gets a note saying with whom.

    `--list` shows it (the list is how to see what clashes); `build_plan` refuses a job
    carrying it, so a dry run or a run stops before anything starts.
    """
    clashes = {**trial_clashes(specs), **name_clashes(s.id for s in specs)}
    return tuple(
        replace(s, error=_clash_note(s.id, clashes[s.id]))
        if s.id in clashes and not is_clash(s.error)
        else s
        for s in specs
    )


def _clash_note(job_id: str, others: Sequence[str]) -> str:
    if job_id in others:
        return f"{SAME_FILES} another job of the same id"
    note = f"{SAME_FILES} {', '.join(map(repr, others))}"
    if all(safe_name(other) != safe_name(job_id) for other in others):
        note += " where case is ignored (macOS, Windows)"
    return note


def is_clash(note: str | None) -> bool:
    return bool(note and note.startswith(SAME_FILES))


def defined_at(spec: JobSpec) -> tuple[str, int | None, str]:
    """Where a job's id comes from, as (file, line, key): a combination's `matrix:`, else
    the script it was discovered as, else the config entry that named it."""
    base = next((t.removeprefix("matrix:") for t in spec.tags if t.startswith("matrix:")), None)
    if base is not None and spec.id.startswith(f"{base}["):  # as `matrix_member` names it
        path, line = next(((p, n) for k, p, n in spec.locations if k == "matrix"), ("", None))
        return path or "config", line, f"jobs.{base}.matrix"
    first = spec.origin[0] if spec.origin else "config"
    config_file, _, number = first.rpartition(":")  # "configs/x.yaml:12", or a script
    if config_file and number.isdigit():
        return config_file, int(number), f"jobs.{spec.id}"
    return first, None, f"jobs.{spec.id}"


#: Matrix axes that set a job's own integer field instead of becoming a flag.
MATRIX_INTS = ("epochs", "folds", "seed")


def expand_matrices(
    specs: Sequence[JobSpec], *, max_jobs: int = DEFAULT_MAX_JOBS
) -> tuple[JobSpec, ...]:
    """Each matrix job becomes its combinations; a need on it becomes a need on them all
    (once: `needs: [forest, forest[seed=0]]` must not wait for, or count, a job twice)."""
    count = sum(len(s.matrix) or 1 for s in specs)
    if count > max_jobs:
        raise OrchestratorError(
            f"{count:,} jobs once matrices are expanded, more than --max-jobs {max_jobs:,}; "
            "raise --max-jobs to plan them all"
        )
    members = {s.id: [matrix_member(s, combo) for combo in s.matrix] for s in specs if s.matrix}
    expanded = [m for s in specs for m in members.get(s.id, [s])]
    return tuple(
        replace(
            s,
            needs=tuple(
                dict.fromkeys(
                    n
                    for need in s.needs
                    for n in ([m.id for m in members[need]] if need in members else [need])
                )
            ),
        )
        for s in expanded
    )


def matrix_member(spec: JobSpec, combo: Pairs) -> JobSpec:
    """`forest` + (seed=0, max_depth=4) → `forest[seed=0,max_depth=4]`, tagged `matrix:forest`.

    Standard flags (epochs, folds, seed) set the job's own fields so they are never passed
    twice; other keys become flags, overriding the same key in `args`.
    """
    values = dict(combo)
    standard: dict[str, Any] = {k: int(v) for k, v in values.items() if k in MATRIX_INTS}
    others = {k: v for k, v in values.items() if k not in standard}
    params = tuple((k, v) for k, v in spec.params if k not in others) + tuple(others.items())
    label = ",".join(f"{k}={v}" for k, v in combo)
    return replace(
        spec,
        id=f"{spec.id}[{label}]",
        matrix=(),
        params=params,
        tags=(*spec.tags, f"matrix:{spec.id}"),
        **standard,
    )


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
)
#: Config keys that make up a job's RetryPolicy.
RETRY_FIELDS = {
    "retry_delay": "delay",
    "backoff": "backoff",
    "retry_max_delay": "max_delay",
    "retry_on": "on",
}


def _apply(
    spec: JobSpec, defaults: Mapping[str, Value], job: JobConfig | None, base: Path
) -> JobSpec:
    fields = {**defaults, **(job.fields if job else {})}
    env = {**defaults.get("env", {}), **(job.fields.get("env", {}) if job else {})}
    changes: dict[str, object] = {}
    if "script" in fields:
        script = inspect_script(base / fields["script"], spec.id, fields["script"])
        changes.update(script=script.path, flags=script.flags, error=script.error, command=None)
    if "command" in fields:
        changes.update(command=fields["command"], script=None, flags=(), error=None)
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
    changes["env"] = tuple(env.items())
    if job is not None:
        changes["origin"] = (*spec.origin, job.origin)
        changes["locations"] = tuple((key, *place) for key, place in job.where.items())
    return replace(spec, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Selector:
    """One item of `--only`, `--exclude` or `--force`.

    An exact one was quoted: it names one id, with no glob (`*`, `?`) or `tag:` meaning,
    so ids holding spaces, commas or those characters can all be selected.
    """

    text: str
    exact: bool = False


#: Quotes that make a selector exact; a quoted piece ends at the quote it started with.
_QUOTES = "'\""


def parse_selectors(values: Sequence[str], flag: str = "--only") -> tuple[Selector, ...]:
    """`--only "a,b" --only c d` → a, b, c, d: CI forms pass one string.

    Commas inside brackets stay: `forest[seed=0,depth=4]` is one matrix job's id. Quotes
    work as in a shell (without backslashes): `'train eval'` is one exact id, and pieces
    join, so `'it'"'"'s'` is `it's`.
    """
    return tuple(selector for value in values for selector in _split(value, flag))


def _split(value: str, flag: str) -> Iterator[Selector]:
    text: list[str] = []
    exact = started = False
    index = 0
    while index < len(value):
        char = value[index]
        end = index  # the last character this step consumes
        if char in _QUOTES:
            end = value.find(char, index + 1)
            if end < 0:
                raise SelectionError(f"{flag} {value}: no closing {char}")
            text.append(value[index + 1 : end])
            exact = started = True
        elif char == "," or char.isspace():
            if started:
                yield Selector("".join(text), exact)
            text, exact, started = [], False, False
        elif char == "[" and "]" in value[index:]:  # a matrix id's `[k=v,...]`
            end = value.index("]", index)
            text.append(value[index : end + 1])
            started = True
        else:
            text.append(char)
            started = True
        index = end + 1
    if started:
        yield Selector("".join(text), exact)


def select(
    specs: Sequence[JobSpec],
    only: Sequence[str],
    exclude: Sequence[str],
    *,
    no_deps: bool = False,
    allow_empty: bool = False,
) -> tuple[JobSpec, ...]:
    """The jobs to run, in their original order; exclude wins over only.

    What a selected job `needs` comes along (transitively) unless `no_deps`. A selector
    that matches nothing is an error: a typo in `--exclude` must not silently start an
    hour of training, nor a typo in `--only` end as a green run that ran nothing.
    """
    check_graph(specs)
    only_sel = parse_selectors(only, "--only")
    exclude_sel = parse_selectors(exclude, "--exclude")
    chosen: set[str] = set()
    for selector in only_sel:
        chosen |= _matching(specs, selector, "--only")
    if not only_sel:
        chosen = {s.id for s in specs if s.enabled}
    excluded: set[str] = set()
    for selector in exclude_sel:
        excluded |= _matching(specs, selector, "--exclude")
    chosen -= excluded
    if not no_deps:
        chosen |= _needed(specs, chosen, excluded)
    selected = tuple(s for s in specs if s.id in chosen)
    if not selected and not allow_empty:
        raise SelectionError(
            "no job left to run after --only/--exclude (--allow-empty makes that a green run)"
            if specs
            else "no jobs found: "
            "no train_*.py under the discovery roots and no jobs in the config files"
        )
    return selected


def check_graph(specs: Sequence[JobSpec]) -> None:
    """Every need names a known job other than itself, and the needs form no cycle."""
    by_id = {spec.id: spec for spec in specs}
    for spec in specs:
        for need in spec.needs:
            if need == spec.id:
                raise _needs_error(spec, "a job cannot need itself")
            if need not in by_id:
                hint = did_you_mean(need, by_id)
                raise _needs_error(spec, f"unknown job '{need}'" + (f"; {hint}" if hint else ""))
    cycle = _find_cycle(by_id)
    if cycle:
        raise _needs_error(by_id[cycle[0]], "dependency cycle: " + " → ".join(cycle))


def _find_cycle(by_id: Mapping[str, JobSpec]) -> list[str] | None:
    """A path `a → b → ... → a` if the needs have a cycle, else None (iterative DFS)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in by_id:
        if state.get(root):
            continue
        path: list[str] = [root]
        stack = [iter(by_id[root].needs)]
        state[root] = 1
        while stack:
            need = next(stack[-1], None)
            if need is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(need) == 1:
                return [*path[path.index(need) :], need]
            elif not state.get(need):
                state[need] = 1
                path.append(need)
                stack.append(iter(by_id[need].needs))
    return None


def _needed(specs: Sequence[JobSpec], chosen: set[str], excluded: set[str]) -> set[str]:
    """Everything the chosen jobs need, transitively; refusing what was excluded."""
    by_id = {spec.id: spec for spec in specs}
    needed: set[str] = set()
    todo = [spec.id for spec in specs if spec.id in chosen]  # spec order: stable messages
    while todo:
        spec = by_id[todo.pop(0)]
        for need in spec.needs:
            if need in excluded:
                raise _needs_error(
                    spec, f"'{need}' is excluded; add --no-deps to run '{spec.id}' without it"
                )
            if need not in chosen and need not in needed:
                needed.add(need)
                todo.append(need)
    return needed


def _needs_error(spec: JobSpec, message: str) -> ConfigError:
    path, line = next(((p, n) for key, p, n in spec.locations if key == "needs"), ("", None))
    return ConfigError(path or "config", message, line=line, key=f"jobs.{spec.id}.needs")


def forced(specs: Sequence[JobSpec], force: Sequence[str]) -> tuple[str, ...]:
    """The ids `--force` names, in job order; `("*",)` when it names them all.

    Its selectors are `--only`'s, and one that names no job is as much an error: a typo
    there would otherwise leave the job cached and the run green.
    """
    selectors = parse_selectors(force, "--force")
    if Selector("*") in selectors:
        return ("*",)
    ids: set[str] = set()
    for selector in selectors:
        ids |= _matching(specs, selector, "--force")
    return tuple(spec.id for spec in specs if spec.id in ids)


def _matching(specs: Sequence[JobSpec], selector: Selector, flag: str) -> set[str]:
    """Ids a selector names: an exact id (even a disabled job), a glob, or `tag:NAME`."""
    text = selector.text
    if selector.exact:
        matched = {s.id for s in specs if s.id == text}
        known = [s.id for s in specs]
    elif text.startswith("tag:"):
        tag = text[len("tag:") :]
        matched = {s.id for s in specs if s.enabled and tag in s.tags}
        known = sorted({f"tag:{t}" for s in specs for t in s.tags})
    elif any(ch in text for ch in "*?"):
        # Brackets are literal (matrix ids), so `forest[*]` means every forest combination.
        pattern = "".join({"[": "[[]", "]": "[]]"}.get(ch, ch) for ch in text)
        matched = {s.id for s in specs if s.enabled and fnmatch.fnmatchcase(s.id, pattern)}
        known = [s.id for s in specs]
    else:
        matched = {s.id for s in specs if s.id == text}
        known = [s.id for s in specs]
    if not matched:
        hint = did_you_mean(text, known)
        listing = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise SelectionError(
            f"{flag} {quoted(text) if selector.exact else text}: no such job"
            + (f"; {hint}" if hint else "")
            + f" (known: {listing})"
        )
    return matched


def quoted(job_id: str) -> str:
    """A job id as a selector that names exactly it, whatever characters it holds."""
    return "'" + job_id.replace("'", "'\"'\"'") + "'"
