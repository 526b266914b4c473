"""Config loading fuzzed over YAML's structure as well as its values.

Anchors and aliases (recursive ones too), merge keys, scalars YAML reads as other than
text, deep nesting and the schema's own keys, through the real loader and merge and plan:
each file is either a valid config or a `ConfigError` (exit 2 with file:line), never
another exception, in bounded time (hypothesis' deadline) and memory.
"""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.config import JOB_FIELDS, SWEEP_KEYS, TOP_LEVEL, load_configs
from orchestrator.errors import OrchestratorError
from orchestrator.jobs import merge
from orchestrator.models import RunOptions
from orchestrator.plan import build_plan

#: Far above what loading a small file takes; a billion laughs took gigabytes.
MEMORY_LIMIT = 64 * 1024 * 1024

ODD_SCALARS = [
    "yes", "No", "off", "y", "~", "null", "true", "1e3", "0x10", "0o17", "1_000", "1:30",
    ".inf", "-.inf", ".nan", "2024-01-01", "-1", "0", "3", "1.5", "''", '""', "'a b'",
    "\"x 'y\"", "echo", "'>= 0.9'", "'<= 60'", "a,b", "'a\\0b'", "\"\\0\"", "tpe", "grid",
    "maximize", "high", "failed",
]  # fmt: skip
KEYS = [
    *JOB_FIELDS, *SWEEP_KEYS, *TOP_LEVEL, "include", "exclude", "float", "int", "choices",
    "log", "x-a", "<<", "seed", "yes", "~", "1", "0x10", "'quoted'", "a b",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(ODD_SCALARS),
    st.text(max_size=6).map(json.dumps),  # double-quoted: any text, escapes and all
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 1100).map(lambda n: "[" * n + "]" * n),  # libyaml stops at 1000
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A YAML file in flow style: anchors defined before use (or inside themselves)."""
    anchors: list[str] = []

    def value(depth: int) -> str:
        kinds = ["scalar", "alias", "map", "seq", "merge"] if depth < 5 else ["scalar", "alias"]
        kind = draw(st.sampled_from(kinds))
        if kind == "alias" and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if kind in {"scalar", "alias"}:
            return draw(scalars)
        anchor = ""
        if draw(st.booleans()):
            anchors.append(f"a{len(anchors)}")
            anchor = f"&{anchors[-1]} "
        size = draw(st.integers(0, 4))
        if kind == "seq":
            return anchor + "[" + ", ".join(value(depth + 1) for _ in range(size)) + "]"
        pairs = [f"{draw(st.sampled_from(KEYS))}: {value(depth + 1)}" for _ in range(size)]
        if kind == "merge" and anchors:
            merged = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=3))
            pairs.insert(0, "<<: [" + ", ".join(f"*{a}" for a in merged) + "]")
        return anchor + "{" + ", ".join(pairs) + "}"

    top = draw(st.lists(st.sampled_from([*TOP_LEVEL, "jobs", "x-base", "job"]), max_size=4))
    return "".join(f"{key}: {value(0)}\n" for key in top)


def jobs_documents() -> st.SearchStrategy[str]:
    """Mostly-valid jobs, so the fuzz reaches every field's validator, not just the top."""
    field = st.tuples(st.sampled_from(list(JOB_FIELDS)), st.one_of(scalars, documents()))
    return st.lists(field, max_size=4).map(
        lambda fields: (
            "jobs:\n  j:\n    command: [echo]\n"
            + "".join(f"    {k}: {v.strip().replace(chr(10), ' ')}\n" for k, v in fields)
        )
    )


def outcome(text: str) -> str:
    """'ok' or 'refused': anything else (another exception) fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        path = base / "configs/jobs.yaml"
        path.parent.mkdir()
        path.write_text(text)
        tracemalloc.start()
        try:
            specs = merge((), load_configs([path], base), base)
            build_plan(specs, RunOptions(), python="python", cpu_count=2)
        except OrchestratorError as error:
            assert str(error).startswith("configs/jobs.yaml") or "--max-jobs" in str(error)
            return "refused"
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < MEMORY_LIMIT, f"{peak:,} bytes"
    return "ok"


FUZZ = settings(max_examples=300, deadline=3000, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(documents())
@example("jobs: &j {a: {<<: *j}}\n")
@example("x-a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "jobs: {a: {command: [echo], args: *a}}\n")
@example("defaults: {<<: [{retries: 1}, {retries: 2}]}\n")
@example("jobs: {1e3: {command: [echo]}, 0x10: {command: [echo]}}\n")
def test_any_yaml_structure_loads_or_is_refused(text: str) -> None:
    assert outcome(text) in {"ok", "refused"}


@FUZZ
@given(jobs_documents())
@example('jobs:\n  j:\n    command: [echo]\n    args: "x \'y"\n')
@example("jobs:\n  j:\n    command: [echo]\n    timeout: .inf\n")
@example("jobs:\n  j:\n    command: [echo]\n    matrix: {include: [{seed: x}]}\n")
def test_any_job_field_value_loads_or_is_refused(text: str) -> None:
    assert outcome(text) in {"ok", "refused"}
