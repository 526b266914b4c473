"""`--only`, `--exclude` and `--force` → the jobs they name, with what those jobs need.

The needs graph is checked here too (unknown jobs, cycles): selection is where a job
pulls in the jobs it needs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence

from orchestrator.errors import ConfigError, SelectionError, did_you_mean
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import JobSpec


@frozen_dataclass
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
    """Ids a selector names: an exact id (even a disabled job), a matrix job's name (its
    combinations), a glob, or `tag:NAME`."""
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
        # A matrix job's own name means its combinations, as it does in `needs:`.
        matched = {s.id for s in specs if s.id == text} or {
            s.id for s in specs if f"matrix:{text}" in s.tags and s.id.startswith(f"{text}[")
        }
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
