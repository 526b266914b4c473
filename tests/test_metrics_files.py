"""A job's metrics.json is untrusted input: whatever it holds, the run goes on and says why.

Real runs for what only a real run shows (a FIFO that blocks an open, a parser's recursion,
reports written to disk and read back); the pure reading function is fuzzed in-process.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import GOOD_SCRIPT, REPO, SHIM, Project, write
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.execute.job_files import (
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_METRICS_KEYS,
    parse_metrics,
    read_metrics,
    valid_name,
)

HEADER = """
import json, os, pathlib
path = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"]) / "metrics.json"
"""
PAD = 50 * 1024 * 1024
#: What the `fifty_mb` job writes: a valid object, fifty times the size cap.
PADDED_BYTES = len('{"accuracy": 0.9, "pad": "' + '"}') + PAD
MANY_KEYS = 200_000
#: What the `many_keys` job writes: too many keys to fit in the size cap at all.
MANY_KEYS_BYTES = len(json.dumps({f"k{i}": i for i in range(MANY_KEYS)}))
SKIPPED_NAMES = f"metrics.json: skipped {{}} not printable text of 1-{MAX_KEY_CHARS} characters"

#: job id -> (what its script does after HEADER, the note expected, the metrics kept).
CASES: dict[str, tuple[str, str | None, dict[str, float]]] = {
    "deep": (
        "path.write_text('{\"accuracy\": ' + '[' * 100_000 + ']' * 100_000 + '}')",
        f"metrics.json ignored: nested deeper than {MAX_DEPTH} levels",
        {},
    ),
    "huge_int": (
        "path.write_text('{\"accuracy\": 0.9, \"count\": 1' + '0' * 5000 + '}')",
        "metrics.json: not a finite number: count",
        {"accuracy": 0.9, "count": "Infinity"},
    ),
    "overflow": (
        'path.write_text(\'{"accuracy": 0.9, "loss": 1e400}\')',
        "metrics.json: not a finite number: loss",
        {"accuracy": 0.9, "loss": "Infinity"},
    ),
    "many_keys": (
        f"path.write_text(json.dumps({{f'k{{i}}': i for i in range({MANY_KEYS})}}))",
        f"metrics.json ignored: {MANY_KEYS_BYTES} bytes, over the 1 MiB cap",
        {},
    ),
    "keys_over_cap": (
        "path.write_text(json.dumps({f'k{i}': i for i in range(5000)}))",
        f"metrics.json ignored: 5000 keys, over the cap of {MAX_METRICS_KEYS}",
        {},
    ),
    "fifty_mb": (
        f"path.write_text('{{\"accuracy\": 0.9, \"pad\": \"' + 'x' * {PAD} + '\"}}')",
        f"metrics.json ignored: {PADDED_BYTES} bytes, over the 1 MiB cap",
        {},
    ),
    "not_utf8": (
        'path.write_bytes(b\'{"accuracy": 0.9, "caf\\xe9": 1}\')',
        "metrics.json ignored: not UTF-8 (invalid byte at offset 22)",
        {},
    ),
    "surrogates": (
        'path.write_text(\'{"accuracy": 0.9, "\\\\ud800": 1, "a\\\\udfffb": 2}\')',
        SKIPPED_NAMES.format("2 keys"),
        {"accuracy": 0.9},
    ),
    "control_chars": (
        "path.write_text(json.dumps({'accuracy': 0.9, 'a\\x00b': 1, 'line\\nbreak': 2,"
        " 'bell\\x07': 3, '\\x1b[31mred': 4, 'x' * 101: 5}))",
        SKIPPED_NAMES.format("5 keys"),
        {"accuracy": 0.9},
    ),
    "a_list": (
        "path.write_text('[0.9]')",
        "metrics.json ignored: expected a JSON object, got an array",
        {},
    ),
    "mixed_values": (
        'path.write_text(\'{"accuracy": 0.9, "converged": true, "model": "rf",'
        ' "params": {"depth": 3}, "loss": NaN, "n_trees": 100}\')',
        "metrics.json: skipped 3 non-numeric values (converged, model, params);"
        " not a finite number: loss",
        {"accuracy": 0.9, "loss": "NaN", "n_trees": 100.0},
    ),
}
#: Were a regression to read /dev/zero to its end, the process dies of a MemoryError
#: instead of taking the machine down with it.
ADDRESS_SPACE = 4 * 1024**3
#: Files no job should leave as metrics.json, each made by a script line after HEADER.
SPECIAL: dict[str, tuple[str, Callable[[Path], None]]] = {
    "dev_zero": ("os.symlink('/dev/zero', path)", lambda path: path.symlink_to("/dev/zero")),
    "fifo": ("os.mkfifo(path)", os.mkfifo),
}
Hostile = tuple[Project, subprocess.CompletedProcess[str]]


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_capped(
    project: Project, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI with capped memory and time: a regression here reads for ever or blocks."""
    return subprocess.run(
        [sys.executable, str(SHIM), *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=cap_memory,
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """One parallel run of every hostile case next to a job that honours the contract."""
    project = Project(tmp_path_factory.mktemp("hostile"))
    project.script("training/train_good.py", GOOD_SCRIPT)
    for job_id, (body, _, _) in CASES.items():
        write(project.root / f"training/train_{job_id}.py", HEADER + body + "\n")
    return project, run_capped(project, "--parallel", "--max-workers", "4")


def test_hostile_files_end_no_run(hostile: Hostile) -> None:
    project, result = hostile
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    jobs = project.jobs()  # validated against the schema
    assert sorted(jobs) == sorted([*CASES, "good"])
    assert {job["status"] for job in jobs.values()} == {"succeeded"}
    assert jobs["good"]["metrics"] == {"accuracy": pytest.approx(0.51)}
    assert jobs["good"]["reason"] is None


def test_reports_stay_well_formed(hostile: Hostile) -> None:
    project, _ = hostile
    summaries = project.root / "summaries"
    markdown = (summaries / "summary.md").read_bytes().decode("utf-8")  # strict: no surrogates
    for job_id in [*CASES, "good"]:
        (row,) = [line for line in markdown.splitlines() if line.startswith(f"| `{job_id}` |")]
        # Eight cells (peak memory and CPU among them: the run was measured), none split.
        assert len(re.split(r"(?<!\\)\|", row)) == 10, row
    suite = ET.parse(summaries / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(len(CASES) + 1) and suite.get("failures") == "0"


@pytest.mark.parametrize("job_id", sorted(CASES))
def test_each_file_gets_its_note(hostile: Hostile, job_id: str) -> None:
    project, _ = hostile
    job = project.jobs()[job_id]
    _, note, metrics = CASES[job_id]
    assert (job["reason"], job["metrics"]) == (note, metrics)


def test_a_gate_on_an_ignored_file_fails_the_job_not_the_run(project: Project) -> None:
    project.script("training/train_good.py", GOOD_SCRIPT)
    write(project.root / "training/train_gated.py", HEADER + CASES["deep"][0] + "\n")
    project.config("configs/jobs.yaml", "jobs:\n  gated: {gates: {accuracy: '>= 0.5'}}\n")
    result = run_capped(project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    jobs = project.jobs()
    assert jobs["good"]["status"] == "succeeded"
    assert jobs["gated"]["status"] == "gate_failed"
    assert jobs["gated"]["reason"] == (
        "accuracy missing from metrics.json (gate accuracy >= 0.5); "
        "metrics.json ignored: nested deeper than 32 levels"  # the why, beside the what
    )
    failure = ET.parse(project.root / "summaries/junit.xml").find(
        ".//testcase[@name='gated']/failure"
    )
    assert failure is not None and failure.get("type") == "gate_failed"


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_files_are_refused_unread(tmp_path: Path, kind: str) -> None:
    _, make = SPECIAL[kind]
    make(tmp_path / "metrics.json")
    code = (
        "import sys; from orchestrator.execute.job_files import read_metrics;"
        " print(read_metrics(sys.argv[1], since=0.0))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,  # opening a FIFO to read blocks until a writer comes: none will
        check=False,
        preexec_fn=cap_memory,
    )
    assert result.stdout == "((), 'metrics.json ignored: not a regular file')\n", result.stderr


def test_special_files_in_a_real_run(project: Project) -> None:
    for kind, (line, _) in SPECIAL.items():
        write(project.root / f"training/train_{kind}.py", HEADER + line + "\n")
    result = run_capped(project, "--parallel", timeout=10)
    assert result.returncode == 0, result.stderr
    jobs = project.jobs()
    assert {job["reason"] for job in jobs.values()} == {"metrics.json ignored: not a regular file"}


def test_a_stale_file_is_ignored_and_a_missing_one_is_no_news(tmp_path: Path) -> None:
    assert read_metrics(str(tmp_path), since=0.0) == ((), None)
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.9}')
    assert read_metrics(str(tmp_path), since=0.0) == ((("accuracy", 0.9),), None)
    later = (tmp_path / "metrics.json").stat().st_mtime + 10
    assert read_metrics(str(tmp_path), since=later) == (
        (),
        "metrics.json ignored: it predates this run (left by an earlier one)",
    )


# ------------------------------------------------------------------- fuzzing the reader
# Keys may hold anything a JSON string can, lone surrogates and control characters too,
# escaped or raw (a raw surrogate is then encoded as bytes UTF-8 does not allow).
KEY = st.builds(
    json.dumps,
    st.text(st.characters(exclude_categories=()), max_size=8),
    ensure_ascii=st.booleans(),
)
NUMBER = st.one_of(
    st.floats().map(json.dumps),  # NaN and Infinity too, which Python's json writes and reads
    st.integers().map(str),
    st.integers(4000, 6000).map(lambda digits: "9" * digits),  # past the int digit limit
    st.sampled_from(["1e400", "-1e400", "-0", "1E-400", "0.1e1"]),
)
SCALAR = st.one_of(NUMBER, st.sampled_from(["true", "false", "null"]), KEY)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(KEY, inner), max_size=4).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        ),
    ),
    max_leaves=16,
)
# Nesting around the cap and far past it, of arrays and of objects.
DEEP = st.builds(
    lambda depth, bracket: '{"a": ' + bracket[0] * depth + "1" + bracket[1] * depth + "}",
    st.integers(MAX_DEPTH - 3, 50_000),
    st.sampled_from([("[", "]"), ('{"a":', "}")]),
)
FLAT = st.lists(st.tuples(KEY, VALUE)).map(
    lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
)
TEXT = st.one_of(FLAT, VALUE, DEEP)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """Generated JSON text, sometimes cut or with bytes flipped; or any bytes at all."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    raw = draw(TEXT).encode("utf-8", "surrogatepass")
    if raw and draw(st.booleans()):
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + draw(st.binary(max_size=3)) + raw[at + draw(st.integers(0, 3)) :]
    return raw


def assert_usable(metrics: Any, note: Any) -> None:
    """What every report can take: distinct printable names, floats (a NaN or infinite one
    named in the note), within caps."""
    assert isinstance(metrics, tuple) and len(metrics) <= MAX_METRICS_KEYS
    names = [name for name, _ in metrics]
    assert len(set(names)) == len(names)
    for name, value in metrics:
        assert isinstance(name, str) and valid_name(name)
        assert type(value) is float
        assert math.isfinite(value) or "not a finite number: " in note
    assert note is None or (note.startswith("metrics.json") and note.isprintable())
    json.dumps({"metrics": dict(metrics), "reason": note}, ensure_ascii=False).encode("utf-8")
    case = ET.Element("testcase", {"message": note or ""})
    case.text = " ".join(f"{name}={value:.6g}" for name, value in metrics)
    ET.fromstring(ET.tostring(case))  # what junit.xml holds of it parses back


@settings(max_examples=400, deadline=None)
@given(raw=documents())
def test_reading_any_bytes_never_raises(raw: bytes) -> None:
    assert_usable(*parse_metrics(raw))


@settings(max_examples=100, deadline=None)
@given(
    flat=st.dictionaries(
        st.text(st.characters(), min_size=1, max_size=MAX_KEY_CHARS).filter(str.isprintable),
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
        max_size=50,
    )
)
def test_a_flat_object_of_numbers_reads_back_whole(flat: dict[str, float]) -> None:
    metrics, note = parse_metrics(json.dumps(flat).encode())
    assert (dict(metrics), note) == ({k: float(v) for k, v in flat.items()}, None)
    assert_usable(metrics, note)
