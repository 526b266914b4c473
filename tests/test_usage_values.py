"""What an attempt used, as values: in the summary and back, sizes, and out_of_memory."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import SCHEMA, summary_document

from orchestrator.config.validate import parse_size
from orchestrator.errors import OrchestratorError
from orchestrator.execute.ending import ProcessEnd, attempt_status, describe, why_it_ended
from orchestrator.models import Attempt, Status
from orchestrator.report.final_table import usage_cells
from orchestrator.run_summary import from_document
from orchestrator.run_summary.writing import dump
from orchestrator.usage import Usage, format_bytes, out_of_memory

MEASURED = Usage(
    method="cgroup-v1",
    cpu_s=3.9,
    peak_memory_bytes=212 << 20,
    mean_cpu_percent=95.1,
    read_bytes=4096,
    write_bytes=0,
    oom_killed=False,
)


def attempt(status: str = "succeeded", **extra: Any) -> dict[str, Any]:
    return {
        "number": 1,
        "status": status,
        "started_at": "2026-11-25T22:41:07Z",
        "duration_s": 4.1,
        "exit_code": 0,
        "signal": None,
        "node": None,
        "error": None,
        **extra,
    }


def job(*attempts: dict[str, Any], status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": "a",
        "script": "train_a.py",
        "argv": ["python", "train_a.py"],
        "status": status,
        "reason": None,
        "optional": False,
        "tags": [],
        "attempts": list(attempts),
        "duration_s": 4.1,
        "log_path": "logs/a.log",
        "output_dir": "results/a_results",
        "metrics": {},
        "gates": [],
        "headline": None,
        "needs": [],
        "from_run": None,
        "sweep": None,
    }


def test_usage_goes_into_the_summary_and_comes_back_the_same() -> None:
    usage = {name: getattr(MEASURED, name) for name in Usage.__dataclass_fields__}
    document = summary_document([job(attempt(usage=usage))], started_at="2026-11-25T22:41:07Z")
    summary = from_document(document, "s.json")
    assert summary.jobs[0].attempts[0].usage == MEASURED
    assert from_document(json.loads(dump(summary)), "again").jobs[0].attempts[0].usage == MEASURED


def test_a_summary_from_before_measuring_loads_without_usage() -> None:
    document = summary_document([job(attempt())], started_at="2026-11-25T22:41:07Z")
    assert from_document(document, "old.json").jobs[0].attempts[0].usage is None
    assert (
        "usage"
        not in json.loads(dump(from_document(document, "old.json")))["jobs"][0]["attempts"][0]
    )


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"method": "guessed"}, "usage.method: expected one of cgroup-v2, cgroup-v1, sampled"),
        ({"method": "sampled", "cpu_s": -1}, "usage.cpu_s: expected a number or null"),
        ({"method": "sampled", "peak_memory_bytes": 1.5}, "usage.peak_memory_bytes: expected a"),
        ({"method": "sampled", "oom_killed": None}, "usage.oom_killed: expected true or false"),
    ],
)
def test_a_wrong_usage_is_named_by_its_path(usage: dict[str, Any], message: str) -> None:
    document = summary_document(
        [job(attempt(usage=usage))], started_at="2026-11-25T22:41:07Z", check=False
    )
    where = re.escape("s.json: jobs[0] ('a').attempts[0].")
    with pytest.raises(OrchestratorError, match=where + re.escape(message)):
        from_document(document, "s.json")


def test_the_schema_documents_every_usage_field() -> None:
    documented = SCHEMA["$defs"]["usage"]["properties"]
    assert set(documented) == set(Usage.__dataclass_fields__)
    assert all("description" in documented[name] for name in documented if name != "method")
    assert "out_of_memory" in SCHEMA["$defs"]["status"]["enum"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2G", 2 << 30),
        ("512M", 512 << 20),
        ("512 MiB", 512 << 20),
        ("1.5g", 3 << 29),
        ("64k", 64 << 10),
        ("1T", 1 << 40),
        ("2000000", 2_000_000),
        ("2 GB", 2 << 30),
        ("lots", None),
        ("2X", None),
        ("-1G", None),
        ("", None),
    ],
)
def test_sizes(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_bytes_as_people_read_them() -> None:
    assert [format_bytes(n) for n in (512, 2048, 212 << 20, 15 << 20, (2 << 30) + (1 << 29))] == [
        "512 B",
        "2.0 KiB",
        "212 MiB",
        "15 MiB",
        "2.5 GiB",
    ]


def test_out_of_memory_is_the_status_and_the_reason_gives_the_peak() -> None:
    over = Usage(
        "cgroup-v1", peak_memory_bytes=150 << 20, oom_killed=True, memory_limit_bytes=150 << 20
    )
    end = ProcessEnd(None, 9, 0.0, 1.0, usage=over, out_of_memory=True)
    assert attempt_status(end) is Status.OUT_OF_MEMORY
    assert describe(end) == "out of memory: over memory_limit 150 MiB (peak 150 MiB)"
    recorded = Attempt(1, 0.0, 1.0, Status.OUT_OF_MEMORY, signal=9, usage=over)
    assert why_it_ended(recorded) == "over memory_limit 150 MiB (peak 150 MiB)"
    # No limit of ours: the kernel's OOM killer (the host's or the container's limit).
    killed = Usage("sampled", peak_memory_bytes=3 << 30, oom_killed=True)
    assert out_of_memory(killed) == "killed by the OOM killer (peak 3.0 GiB)"
    # A time-out that also ran out of memory is a time-out: that came first.
    timed_out = ProcessEnd(None, 9, 0.0, 1.0, timed_out=True, usage=over, out_of_memory=True)
    assert attempt_status(timed_out) is Status.TIMED_OUT


def test_final_table_cells_take_the_largest_peak_and_cpu_over_wall() -> None:
    first = Attempt(
        1, 0.0, 2.0, Status.FAILED, usage=Usage("sampled", cpu_s=1.0, peak_memory_bytes=100 << 20)
    )
    second = Attempt(
        2,
        5.0,
        2.0,
        Status.SUCCEEDED,
        usage=Usage("sampled", cpu_s=3.0, peak_memory_bytes=300 << 20),
    )
    assert usage_cells([first, second]) == ("300 MiB", "100%")
    assert usage_cells([Attempt(1, 0.0, 1.0, Status.FAILED)]) == ("", "")
