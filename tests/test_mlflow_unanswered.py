"""A tracking server that does not answer never stalls training (issue 20): real sockets
that accept a connection and then never answer, or reset it. The jobs start on time, run
without MLFLOW_RUN_ID, the run's exit code is the jobs', and `tracking: failed — …` is
said once; the delays are read from the summary's own timestamps."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from conftest import Project

from orchestrator.run_summary.records import parse_iso
from orchestrator.tracking.session import SERVER_WAIT

pytest.importorskip("mlflow", reason="the mlflow extra is part of .[dev]")

JOB = """
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
args = parser.parse_args()
print("run id:", os.environ.get("MLFLOW_RUN_ID"))
print("retries:", os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES"))
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": 1.0}))
"""

#: What the rest of a run's start costs besides tracking (journal, scheduler, spawning),
#: generous for a loaded 2-core machine; far below the minute a hung server used to cost.
SLACK = 3.0


@pytest.fixture
def silent() -> Iterator[str]:
    """A server whose kernel completes every connection (the listen backlog) and which
    never reads or answers: a black hole behind an open port."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def resetting() -> Iterator[str]:
    """A server that accepts each connection and resets it at once (RST, not FIN)."""
    sock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # closed: the test is over
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("server", "said"),
    [
        # our bound and MLflow's HTTP timeout (both 10 s) race: either reason is the truth
        ("silent", ("no answer", "timed out")),
        ("resetting", ("connection reset by peer",)),
    ],
)
def test_a_server_that_does_not_answer_costs_the_jobs_one_bounded_wait(
    project: Project, server: str, said: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(server)
    project.script("training/train_a.py", JOB)
    project.script("training/train_b.py", JOB)
    result = project.run("--mlflow", url)
    assert result.returncode == 0, result.stderr  # the jobs' verdict, untouched
    assert result.stderr.count("tracking: failed — ") == 1, result.stderr
    summary = project.summary()
    tracking = summary["tracking"]
    # given up at the bound, or sooner by the worker once its retries are spent
    assert tracking["status"].startswith(tuple(f"failed — connecting to {url}: {s}" for s in said))
    assert (tracking["parent_run_id"], tracking["runs"]) == (None, {})
    waited = tracking["waited_s"]
    assert waited["server"] <= SERVER_WAIT + 0.5  # one bounded wait, before the first job

    jobs = {job["id"]: job for job in summary["jobs"]}
    assert {job["status"] for job in jobs.values()} == {"succeeded"}
    first, second = sorted(
        (job["attempts"][0] for job in jobs.values()), key=lambda a: a["started_at"]
    )
    delay = parse_iso(first["started_at"]) - parse_iso(summary["started_at"])
    assert delay - waited["loading"] <= SERVER_WAIT + SLACK
    ended = parse_iso(first["started_at"]) + first["duration_s"]
    assert parse_iso(second["started_at"]) - ended <= SLACK  # later jobs do not wait at all
    for job in ("a", "b"):
        log = (project.root / f"logs/{job}.log").read_text()
        assert "run id: None" in log
        assert "retries: None" in log  # our client's settings are not the scripts'
