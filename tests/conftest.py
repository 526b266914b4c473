"""Shared helpers: throwaway projects in tmp_path and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import settings

# Hypothesis fails an example slower than 200 ms by default: a wall-clock bound, which a
# loaded 2-core machine breaks. Speed is measured in bench/, not asserted in tests.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")


def _signals_reach_the_processes_under_test() -> None:
    """Tests send SIGINT, SIGQUIT or SIGHUP to processes they start (the CLI; a step's
    `trap ... INT`, as GitHub's runner cancels), and a signal ignored here stays ignored in
    every child: pytest run in the background of a script (SIGINT, SIGQUIT) or under
    `nohup` (SIGHUP). The CLI rightly keeps an ignored signal ignored, and bash cannot
    even trap one. A handler of ours, unlike SIG_IGN, is not inherited across exec: the
    children start with the default, as a hosted runner starts them, while this process
    still shrugs the signal off."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, lambda _signum, _frame: None)


_signals_reach_the_processes_under_test()

REPO = Path(__file__).resolve().parent.parent
SHIM = REPO / "run_all_training.py"
#: The jobs configs/jobs.yaml defines for the bundled scripts, sorted.
BUNDLED = sorted(
    [
        "ensemble",
        "isolation_forest",
        "lightgbm_forecast",
        "lightgbm_sweep",
        "mlp",
        "mlp_breast_cancer",
        "random_forest",
        "xgboost",
    ]
)

#: A script that honours the contract: declares the standard flags, writes metrics.json.
GOOD_SCRIPT = """
import argparse, json, os, pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--folds", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.5 + args.epochs / 100}))
print("trained", args.epochs, "epochs")
"""


SCHEMA = json.loads((REPO / "orchestrator/schemas/summary.schema.json").read_text())


def load_summary(path: Path) -> dict[str, Any]:
    """Every summary a test reads is checked against the published schema first."""
    data: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def summary_document(
    jobs: Sequence[dict[str, Any]],
    *,
    started_at: str,
    commit: str | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """A run summary around `jobs`, built in-process; checked against the schema unless
    `check` is off (costly for thousands of jobs)."""
    data = {
        "schema_version": 2,
        "started_at": started_at,
        "ended_at": started_at,
        "duration_s": 10.0,
        "exit_code": 0 if all(j["status"] == "succeeded" for j in jobs) else 1,
        "interrupted_by": None,
        "host": "ci",
        "python": "3.11.7",
        "orchestrator_version": "0.1.0",
        "git_commit": commit,
        "options": {},
        "backend": {"name": "local"},
        "counts": dict(Counter(j["status"] for j in jobs)),
        "jobs": list(jobs),
    }
    if check:
        jsonschema.validate(data, SCHEMA)
    return data


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (a zombie runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone, or going as read
        return False
    return state != "Z"


def group_alive(pgid: int) -> bool:
    """True if any live (non-zombie) process is in the group.

    killpg(pgid, 0) is not enough: an orphaned zombie still counts there until whatever
    reaps orphans on this machine gets to it, though it runs nothing.
    """
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


class Project:
    """A throwaway project tree; `run` invokes the real CLI in it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def script(self, rel: str, body: str = GOOD_SCRIPT) -> Path:
        return write(self.root / rel, body)

    def config(self, rel: str, text: str) -> Path:
        return write(self.root / rel, text)

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        python_flags: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, *python_flags, str(SHIM), *args],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def imported(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[set[str], subprocess.CompletedProcess[str]]:
        """The modules a run of the CLI loaded (`-X importtime`'s lines), and the run."""
        result = self.run(*args, env=env, python_flags=("-X", "importtime"))
        lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
        return {line.rsplit("|", 1)[-1].strip() for line in lines}, result

    def summary(self) -> dict[str, Any]:
        return load_summary(self.root / "summaries/latest.json")

    def journal(self) -> list[dict[str, Any]]:
        path = sorted((self.root / "summaries").glob("journal_*.jsonl"))[-1]
        return [json.loads(line) for line in path.read_text().splitlines()]

    def jobs(self) -> dict[str, dict[str, Any]]:
        return {job["id"]: job for job in self.summary()["jobs"]}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str) -> Project:
        return Project(tmp_path / name)

    return make


@pytest.fixture(params=["cgroups", "sampled"])
def cgroups(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Measured through a v1 memory cgroup, then by sampling /proc: both of a job's paths.
    The first is skipped where no v1 memory cgroup of ours can be made."""
    from orchestrator.execute.memory_cgroups import MemoryCgroups

    if request.param == "cgroups":
        probe = MemoryCgroups.make()
        if probe is None:
            pytest.skip("no v1 memory cgroup of ours to write here")
        probe.close()
    yield request.param == "cgroups"
