"""The execution engine with real processes and real signals.

Timing is read from the journal's own timestamps and the scripts' output, never asserted
as a wall-clock bound: the machine is shared and slow runs must not fail the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SHIM, Project, alive, group_alive, load_summary

# Spawns a sleeping grandchild, records both pids, then sleeps: a job to time out.
SPAWNER = """
import os, pathlib, subprocess, sys, time
out = pathlib.Path(os.environ["TRAIN_ORCH_OUTPUT_DIR"])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
(out / "pids.json").write_text('{"job": %d, "grandchild": %d}' % (os.getpid(), child.pid))
print("spawned", child.pid, flush=True)
time.sleep(300)
"""

# Sleeps until told to stop, but exits by itself if the orchestrator disappears, so a
# test that SIGKILLs the orchestrator leaves nothing behind.
SLEEPER = """
import os, time
parent = os.getppid()
print("sleeping", flush=True)
for _ in range(3000):
    if os.getppid() != parent:
        break
    time.sleep(0.1)
"""

IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(300)
"""

GRACEFUL = """
import signal, sys, time
def stop(signum, frame):
    print("got SIGTERM, saving checkpoint", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(300)
"""

FAILS = "import sys; sys.exit(1)\n"
QUICK = "print('done')\n"


def events(project: Project, kind: str) -> list[dict[str, Any]]:
    return [r for r in project.journal() if r["event"] == kind]


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    """Poll until predicate() holds; a hang fails the test instead of blocking the suite."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def start_cli(project: Project, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAIN_ORCH_")}
    return subprocess.Popen(
        [sys.executable, str(SHIM), *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal_has(project: Project, kind: str, count: int = 1) -> bool:
    paths = list((project.root / "summaries").glob("journal_*.jsonl"))
    if not paths:
        return False
    lines = paths[0].read_text().splitlines()
    return sum(f'"event":"{kind}"' in line for line in lines) >= count


def test_timeout_kills_the_whole_group_including_grandchildren(project: Project) -> None:
    project.script("training/train_spawner.py", SPAWNER)
    project.config("configs/jobs.yaml", "jobs:\n  spawner:\n    timeout: 1\n    grace: 1\n")
    result = project.run()
    assert result.returncode == 1
    job = project.jobs()["spawner"]
    assert job["status"] == "timed_out"
    assert job["reason"] == "timed out"
    pids = json.loads((project.root / "results/spawner_results/pids.json").read_text())
    assert not alive(pids["grandchild"])
    assert not group_alive(pids["job"])
    assert "=== timed out after" in (project.root / "logs/spawner.log").read_text()


def test_timed_out_is_distinct_from_failed(project: Project) -> None:
    project.script("training/train_slow.py", SLEEPER)
    project.script("training/train_bad.py", FAILS)
    result = project.run("--timeout", "0.5")
    assert result.returncode == 1
    jobs = project.jobs()
    assert (jobs["slow"]["status"], jobs["bad"]["status"]) == ("timed_out", "failed")
    assert project.summary()["counts"] == {"failed": 1, "timed_out": 1}


def test_grace_then_sigkill_for_a_job_that_ignores_sigterm(project: Project) -> None:
    project.script("training/train_stubborn.py", IGNORES_SIGTERM)
    project.config("configs/jobs.yaml", "jobs:\n  stubborn:\n    timeout: 0.5\n    grace: 1\n")
    assert project.run().returncode == 1
    (attempt,) = project.jobs()["stubborn"]["attempts"]
    assert attempt["status"] == "timed_out"
    assert attempt["signal"] == signal.SIGKILL
    assert attempt["duration_s"] >= 1.5  # SIGKILL came only after timeout + grace


def test_a_job_that_handles_sigterm_gets_to_clean_up(project: Project) -> None:
    project.script("training/train_graceful.py", GRACEFUL)
    project.config("configs/jobs.yaml", "jobs:\n  graceful:\n    timeout: 0.5\n")
    assert project.run().returncode == 1
    job = project.jobs()["graceful"]
    assert job["status"] == "timed_out"
    assert job["attempts"][0]["exit_code"] == 0
    assert "got SIGTERM, saving checkpoint" in (project.root / "logs/graceful.log").read_text()


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_signal_cancels_running_skips_pending_and_writes_summary(
    project: Project, sig: int, code: int, name: str
) -> None:
    for job_id in ("a", "b", "c"):
        project.script(f"training/train_{job_id}.py", SLEEPER)
    proc = start_cli(project, "--parallel", "--max-workers", "2", "--cpus", "2")
    wait_for(lambda: journal_has(project, "attempt_started", 2))
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    summary = project.summary()
    assert summary["interrupted_by"] == name
    assert summary["counts"] == {"cancelled": 2, "skipped": 1}
    statuses = {job["id"]: job["status"] for job in summary["jobs"]}
    assert statuses == {"a": "cancelled", "b": "cancelled", "c": "skipped"}
    assert project.jobs()["c"]["reason"] == f"not started: interrupted by {name}"
    assert [r["exit_code"] for r in events(project, "run_finished")] == [code]
    assert "Traceback" not in stderr


def test_second_ctrl_c_kills_at_once_and_still_writes_summary(project: Project) -> None:
    project.script("training/train_stubborn.py", IGNORES_SIGTERM)
    proc = start_cli(project, "--grace", "120")
    wait_for(lambda: "ignoring SIGTERM" in _read(project.root / "logs/stubborn.log"))
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: journal_has(project, "halted"))
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)  # far less than the 120 s grace: the second signal killed
    assert proc.returncode == 130
    (attempt,) = project.jobs()["stubborn"]["attempts"]
    assert (attempt["status"], attempt["signal"]) == ("cancelled", signal.SIGKILL)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_fail_fast_cancels_running_and_skips_the_rest(project: Project) -> None:
    project.script("training/train_a_slow.py", SLEEPER)
    project.script("training/train_b_bad.py", "import time, sys; time.sleep(0.5); sys.exit(1)\n")
    project.script("training/train_c_later.py", QUICK)
    result = project.run("--parallel", "--max-workers", "2", "--cpus", "2", "--fail-fast")
    assert result.returncode == 1
    jobs = project.jobs()
    assert {i: j["status"] for i, j in jobs.items()} == {
        "a_slow": "cancelled",
        "b_bad": "failed",
        "c_later": "skipped",
    }
    assert jobs["c_later"]["reason"] == "not started: --fail-fast after 'b_bad' failed"


def test_optional_failure_does_not_trigger_fail_fast(project: Project) -> None:
    project.script("training/train_a.py", FAILS)
    project.script("training/train_b.py", QUICK)
    project.config("configs/jobs.yaml", "jobs:\n  a:\n    optional: true\n")
    assert project.run("--fail-fast").returncode == 0
    assert project.jobs()["b"]["status"] == "succeeded"


def test_backoff_grows_between_attempts(project: Project) -> None:
    project.script("training/train_flaky.py", FAILS)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          flaky:
            retries: 3
            retry_delay: 0.2
            backoff: 2
    """,
    )
    assert project.run().returncode == 1
    ended = [r["at"] for r in events(project, "attempt_ended")]
    started = [r["at"] for r in events(project, "attempt_started")]
    gaps = [start - end for end, start in zip(ended, started[1:], strict=False)]
    assert len(gaps) == 3
    for gap, nominal in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= nominal * 0.8  # jitter is at most ±20%
    assert gaps[0] < gaps[1] < gaps[2]
    assert [r["retry_in"] is not None for r in events(project, "attempt_ended")] == [
        True,
        True,
        True,
        False,
    ]
    log = (project.root / "logs/flaky.log").read_text()
    assert [f"=== attempt {n}/4 · " in log for n in (1, 2, 3, 4)] == [True] * 4


def test_retry_on_limits_what_is_retried(project: Project) -> None:
    project.script("training/train_bad.py", FAILS)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          bad:
            retries: 2
            retry_on: [timed_out]
    """,
    )
    assert project.run().returncode == 1
    assert len(project.jobs()["bad"]["attempts"]) == 1


def test_huge_binary_output_without_newline_is_logged_completely(project: Project) -> None:
    project.script(
        "training/train_loud.py",
        """
        import sys
        chunk = (b"\\xff\\xfe not utf-8 \\x80" * 2000)[:16384]
        for _ in range(200 * 64):  # 200 MiB
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"no newline at the end")
    """,
    )
    assert project.run().returncode == 0
    log = project.root / "logs/loud.log"
    assert log.stat().st_size > 200 * 1024 * 1024
    with log.open("rb") as handle:
        handle.seek(-200, os.SEEK_END)
        end = handle.read().split(b"\n")
    assert end[-3].endswith(b"no newline at the end")
    assert end[-2].startswith(b"=== exit 0 after ")


def test_gates_pass_fail_and_missing_metric(project: Project) -> None:
    for job_id in ("pass", "fail", "missing"):
        project.script(f"training/train_{job_id}.py")  # writes accuracy 0.5 + epochs/100
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          pass: {gates: {accuracy: ">= 0.5"}}
          fail: {gates: {accuracy: "> 0.9"}}
          missing: {gates: {rmse: "<= 60"}}
    """,
    )
    assert project.run().returncode == 1
    jobs = project.jobs()
    assert jobs["pass"]["status"] == "succeeded"
    assert jobs["fail"]["status"] == "gate_failed"
    assert jobs["fail"]["reason"] == "accuracy 0.51 fails > 0.9"
    assert jobs["fail"]["metrics"] == {"accuracy": pytest.approx(0.51)}
    assert jobs["missing"]["reason"] == "rmse missing from metrics.json (gate rmse <= 60)"


def test_gates_only_reported_fail_neither_the_run_nor_what_needs_them(project: Project) -> None:
    project.script("training/train_weak.py")  # accuracy 0.51
    project.script("training/train_uses_weak.py")
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  weak: {gates: {accuracy: '> 0.9'}}\n  uses_weak: {needs: [weak]}\n",
    )
    enforced = project.run()
    assert enforced.returncode == 1
    assert project.jobs()["uses_weak"]["status"] == "skipped"
    reported = project.run("--gates", "report", "--force", env={"GITHUB_ACTIONS": "true"})
    assert reported.returncode == 0, reported.stderr
    assert "::warning title=weak::weak gate_failed: accuracy 0.51 fails > 0.9" in reported.stdout
    assert "::error" not in reported.stdout
    jobs = project.jobs()
    assert (jobs["weak"]["status"], jobs["weak"]["reason"]) == (
        "gate_failed",
        "accuracy 0.51 fails > 0.9",
    )
    assert jobs["uses_weak"]["status"] == "succeeded"
    assert project.summary()["exit_code"] == 0
    for k, jobs_of_shard in enumerate((["weak"], ["uses_weak"]), start=1):
        project.run(
            "--gates",
            "report",
            "--force",
            "--no-deps",
            "--output-root",
            f"s{k}",
            env={"TRAIN_ORCH_SHARD_JOBS": json.dumps(jobs_of_shard)},
        )
    assert project.run("merge", "s1", "s2").returncode == 0  # the merge reads the option


def test_bad_gate_is_a_config_error(project: Project) -> None:
    project.script("training/train_a.py")
    project.config("configs/jobs.yaml", "jobs:\n  a:\n    gates: {accuracy: at least 0.9}\n")
    result = project.run("--list")
    assert result.returncode == 2
    assert (
        "configs/jobs.yaml:3:13: jobs.a.gates.accuracy: expected a rule like '>= 0.9' "
        "(one of >= <= > < ==), got 'at least 0.9'"
    ) in result.stderr


def intervals(project: Project) -> list[tuple[float, float, str]]:
    starts = {r["job"]: r["at"] for r in events(project, "attempt_started")}
    ends = {r["job"]: r["at"] for r in events(project, "attempt_ended")}
    return [(starts[j], ends[j], j) for j in starts]


def test_cpu_tokens_are_never_exceeded(project: Project) -> None:
    script = "import time; time.sleep(0.4)\n"
    for job_id in ("a", "big", "c", "d"):
        project.script(f"training/train_{job_id}.py", script)
    project.config("configs/jobs.yaml", "jobs:\n  big:\n    cpus: 2\n")
    assert project.run("--parallel", "--max-workers", "4", "--cpus", "2").returncode == 0
    cpus = {"a": 1, "big": 2, "c": 1, "d": 1}
    spans = intervals(project)
    peak = 0
    for start, _, _ in spans:  # load just after each start
        load = sum(cpus[j] for s, e, j in spans if s <= start < e)
        peak = max(peak, load)
    assert peak == 2  # fully used, never more


def test_priority_then_plan_order(project: Project) -> None:
    for job_id in ("a", "b", "c", "d"):
        project.script(f"training/train_{job_id}.py", QUICK)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          a: {priority: low}
          b: {priority: critical}
          c: {}
          d: {priority: high}
    """,
    )
    assert project.run().returncode == 0
    assert [r["job"] for r in events(project, "attempt_started")] == ["b", "d", "c", "a"]


def test_longest_first_from_the_previous_summary(project: Project) -> None:
    for job_id in ("short", "long", "new"):
        project.script(f"training/train_{job_id}.py", QUICK)
    (project.root / "summaries").mkdir()
    previous = {
        "jobs": [
            {"id": "short", "status": "succeeded", "duration_s": 1.0},
            {"id": "long", "status": "succeeded", "duration_s": 90.0},
        ]
    }
    (project.root / "summaries/latest.json").write_text(json.dumps(previous))
    result = project.run("--dry-run", "--format", "json")
    assert [job["id"] for job in json.loads(result.stdout)["jobs"]] == ["long", "short", "new"]


def test_thread_variables_follow_cpus_unless_env_sets_them(project: Project) -> None:
    printer = "import os; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])\n"
    project.script("training/train_two.py", printer)
    project.script("training/train_own.py", printer)
    project.config(
        "configs/jobs.yaml",
        """
        jobs:
          two: {cpus: 2}
          own: {env: {OMP_NUM_THREADS: 7}}
    """,
    )
    assert project.run("--cpus", "4").returncode == 0
    assert "2 2\n" in (project.root / "logs/two.log").read_text()
    assert "7 1\n" in (project.root / "logs/own.log").read_text()


def test_the_journal_never_shows_a_job_starting_before_the_end_that_made_room(
    project: Project,
) -> None:
    """The next job starts before the last one is recorded, but is told after it: a run
    killed between the two lines must not lose a success (its --resume would redo it)."""
    for job_id in ("a", "b", "c", "d"):
        project.script(f"training/train_{job_id}.py", QUICK)
    assert project.run().returncode == 0
    order = [
        (record["event"], record["job"])
        for record in project.journal()
        if record["event"] in {"attempt_started", "job_finished"}
    ]
    assert order == [
        (event, job_id) for job_id in "abcd" for event in ("attempt_started", "job_finished")
    ]


def test_journal_survives_sigkill_and_rebuilds_a_summary(project: Project) -> None:
    project.script("training/train_a_quick.py", QUICK)
    project.script("training/train_b_slow.py", SLEEPER)
    project.script("training/train_c_never.py", QUICK)
    proc = start_cli(project)
    wait_for(lambda: journal_has(project, "attempt_started", 2))
    proc.kill()
    proc.communicate(timeout=30)
    assert not (project.root / "summaries/latest.json").exists()
    (journal,) = (project.root / "summaries").glob("journal_*.jsonl")
    result = project.run("summarize", "--from-journal", str(journal))
    assert result.returncode == 0, result.stderr
    summary = load_summary(project.root / "summaries/latest.json")
    statuses = {job["id"]: (job["status"], job["reason"]) for job in summary["jobs"]}
    assert statuses == {
        "a_quick": ("succeeded", None),
        "b_slow": ("cancelled", "orchestrator stopped during attempt 1"),
        "c_never": ("skipped", "never started"),
    }
    assert summary["exit_code"] == 1


def test_rebuilt_summary_of_a_finished_run_matches_the_real_one(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_bad.py", FAILS)
    project.run()
    real = project.summary()
    (journal,) = (project.root / "summaries").glob("journal_*.jsonl")
    project.run("summarize", "--from-journal", str(journal))
    rebuilt = project.summary()
    assert rebuilt["jobs"] == real["jobs"]
    assert rebuilt["exit_code"] == real["exit_code"] == 1


def test_github_actions_gets_log_tail_group_and_error_annotation(project: Project) -> None:
    project.script(
        "training/train_bad.py",
        """
        import sys
        print("::add-mask::should-not-act")
        print("loss exploded", file=sys.stderr)
        sys.exit(4)
    """,
    )
    result = project.run(env={"GITHUB_ACTIONS": "true"})
    lines = result.stdout.splitlines()
    assert "::group::bad: last 50 log lines (logs/bad.log)" in lines
    stop = next(line for line in lines if line.startswith("::stop-commands::"))
    token = stop.split("::")[2]
    inside = lines[lines.index(stop) + 1 : lines.index(f"::{token}::")]
    assert "::add-mask::should-not-act" in inside
    assert "loss exploded" in inside
    assert "::error title=bad::bad failed: exit 4 (log: logs/bad.log)" in lines


def test_verbose_shows_commands_and_env_with_secrets_masked(project: Project) -> None:
    project.script("training/train_a.py", QUICK)
    project.config("configs/jobs.yaml", "jobs:\n  a:\n    env: {API_TOKEN: hunter2, STAGE: dev}\n")
    result = project.run("-v")
    assert "API_TOKEN=***" in result.stdout
    assert "STAGE=dev" in result.stdout
    assert "hunter2" not in result.stdout
    assert "hunter2" not in (project.root / "summaries/latest.json").read_text()


def test_quiet_prints_only_the_final_table(project: Project) -> None:
    project.script("training/train_a.py", QUICK)
    result = project.run("-q")
    assert result.stdout.lstrip().startswith("job")
    assert "start" not in result.stdout


def test_a_long_final_table_keeps_every_failure_and_folds_successes(project: Project) -> None:
    jobs = "".join(f"  ok{n:02d}: {{command: [true]}}\n" for n in range(45))
    project.config("configs/jobs.yaml", f"jobs:\n{jobs}  broken: {{command: [false]}}\n")
    result = project.run("-q", "--no-auto-discover")
    assert result.returncode == 1
    rows = [line.split()[0] for line in result.stdout.splitlines() if line.startswith(("ok", "br"))]
    assert rows == [*(f"ok{n:02d}" for n in range(39)), "broken"]  # 40 rows, the failure kept
    assert "… and 6 more successful jobs" in result.stdout
    assert "45 succeeded · 1 failed" in result.stdout
    assert len(project.jobs()) == 46  # the summary still has every job


def test_an_output_dir_that_cannot_be_created_fails_that_job_only(project: Project) -> None:
    project.config(
        "configs/jobs.yaml", "jobs:\n  blocked: {command: [true]}\n  fine: {command: [true]}\n"
    )
    (project.root / "results").mkdir()
    (project.root / "results/blocked_results").write_text("a file where the dir would go")
    result = project.run("--no-auto-discover")
    assert result.returncode == 1, result.stderr
    jobs = project.jobs()
    assert jobs["fine"]["status"] == "succeeded"
    assert jobs["blocked"]["status"] == "failed"
    assert "cannot create results/blocked_results" in jobs["blocked"]["reason"]


def test_each_run_starts_a_jobs_log_afresh(project: Project) -> None:
    project.script("training/train_a.py", QUICK)
    for _ in range(2):
        assert project.run("--force").returncode == 0
    log = (project.root / "logs/a.log").read_text()
    assert log.count("=== attempt 1/") == 1
    assert log.count("done") == 1


def test_a_run_that_stops_early_makes_no_files_for_jobs_it_never_reached(
    project: Project,
) -> None:
    jobs = "".join(f"  j{n:02d}: {{command: [true]}}\n" for n in range(1, 30))
    failing = "{command: [sh, -c, 'sleep 0.5; exit 1']}"  # time to stage every job ahead
    project.config("configs/jobs.yaml", f"jobs:\n  j00: {failing}\n{jobs}")
    assert project.run("--no-auto-discover", "--fail-fast").returncode == 1
    assert project.jobs()["j29"]["status"] == "skipped"
    made = {path.stem for path in (project.root / "logs").glob("*.log")}
    assert "j00" in made
    assert not made & {f"j{n:02d}" for n in range(20, 30)}  # only a few ahead were staged
