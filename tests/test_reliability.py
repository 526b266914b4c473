"""The fault and bad-input matrix: each case asserts what the user keeps — an exit code, a
complete log, a true summary or journal — when a script, the machine or the input is hostile."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, SHIM, Project, alive, load_summary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.cli import cli

# ------------------------------------------------------------------ config fuzzing
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=True), st.text(max_size=12)
)
KEYS = st.sampled_from(
    [
        "jobs",
        "defaults",
        "epochs",
        "retries",
        "tags",
        "args",
        "script",
        "command",
        "env",
        "needs",
        "gates",
        "matrix",
        "sweep",
        "timeout",
        "a",
        "b",
        "x y",
        "cpus",
        "priority",
        "profile",
    ]
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
BUNDLED = (REPO / "configs/jobs.yaml").read_text()


def run_in_process(root: Path, text: str) -> Any:
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "configs/jobs.yaml").write_text(text)
    runner = CliRunner()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        return runner.invoke(cli, ["--list", "--no-auto-discover"], catch_exceptions=True)
    finally:
        os.chdir(cwd)


def assert_clean(result: Any) -> None:
    """Exit 0, or exit 2 naming file and line; never a traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert re.search(r"configs/jobs\.yaml:\d+", result.output) or "no jobs found" in (
            result.output
        ), result.output


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=DOCS)
def test_random_yaml_documents_never_crash(tmp_path: Path, doc: Any) -> None:
    assert_clean(run_in_process(tmp_path, yaml.safe_dump(doc)))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cut=st.integers(0, len(BUNDLED) - 1), junk=st.text(max_size=6), length=st.integers(0, 8))
def test_mutated_bundled_config_never_crashes(
    tmp_path: Path, cut: int, junk: str, length: int
) -> None:
    assert_clean(run_in_process(tmp_path, BUNDLED[:cut] + junk + BUNDLED[cut + length :]))


# ---------------------------------------------------------------- hostile scripts
HOSTILE = {
    "sigkill_self": (
        "import os, signal; print('bye', flush=True); os.kill(os.getpid(), 9)",
        "failed",
        "killed by SIGKILL",
        "bye",
    ),
    "segfault": (
        "import os, signal; print('crash', flush=True); os.kill(os.getpid(), 11)",
        "failed",
        "killed by SIGSEGV",
        "crash",
    ),
    "exit_255": (
        "import sys; print('giving up', flush=True); sys.exit(255)",
        "failed",
        "exit 255",
        "giving up",
    ),
    "closes_stdout": (
        "import os, sys, time; print('before', flush=True); os.close(1); "
        "os.close(2); time.sleep(0.2)",
        "succeeded",
        None,
        "before",
    ),
    "daemon_grandchild": (
        "import os, pathlib, sys, time\n"
        "if os.fork() == 0:\n"
        "    if os.fork() == 0:\n"
        "        pathlib.Path(os.environ['TRAIN_ORCH_OUTPUT_DIR'], 'daemon').write_text("
        "str(os.getpid()))\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "os.wait()\nprint('parent done', flush=True)\n",
        "succeeded",
        None,
        "parent done",
    ),
    "setsid_daemon": (  # the classic daemon: fork, setsid, fork; it leaves the job's group
        "import os, pathlib, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        pathlib.Path(os.environ['TRAIN_ORCH_OUTPUT_DIR'], 'daemon').write_text("
        "str(os.getpid()))\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "os.wait()\ntime.sleep(0.2)\nprint('daemonized', flush=True)\n",
        "succeeded",
        None,
        "daemonized",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_script(project: Project, name: str) -> None:
    source, status, reason, output = HOSTILE[name]
    project.script(f"training/train_{name}.py", source + "\n")
    project.run()
    job = project.jobs()[name]
    assert (job["status"], job["reason"]) == (status, reason)
    log = (project.root / f"logs/{name}.log").read_text()
    assert output in log
    assert log.rstrip().splitlines()[-1].startswith("=== ")  # the log is complete
    daemon = project.root / f"results/{name}_results/daemon"
    if "daemon" in name:  # in the job's group or out of it: it ended with the job
        assert not alive(int(daemon.read_text()))


SPAWN_DAEMON = """
import os, pathlib, sys, time
def daemon(name):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # written aside, then renamed: seen only once it holds the pid
            pathlib.Path(name + '.tmp').write_text(str(os.getpid()))
            os.replace(name + '.tmp', name)
            time.sleep(300)
        os._exit(0)
    os.wait()
    while not pathlib.Path(name).exists():
        time.sleep(0.01)
    return int(pathlib.Path(name).read_text())
"""


def test_an_orphan_that_exits_is_reaped_while_its_job_runs(project: Project) -> None:
    """Orphans become the orchestrator's children: one that exits must not stay a zombie."""
    project.script(
        "training/train_long.py",
        SPAWN_DAEMON.replace("time.sleep(300)", "time.sleep(0.2)")
        + """
pid = daemon('orphan.pid')
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if not pathlib.Path(f'/proc/{pid}').exists():
        print('reaped', flush=True)
        break
    time.sleep(0.05)
else:
    sys.exit('the orphan is still a zombie')
""",
    )
    result = project.run()
    assert result.returncode == 0, (project.root / "logs/long.log").read_text()


def test_a_daemon_dies_with_its_job_not_with_another(project: Project) -> None:
    """Orphans are told apart by job: a's daemon goes when a ends, b's stays while b runs."""
    project.script("training/train_a.py", SPAWN_DAEMON + "daemon('a.pid')\n")
    project.script(
        "training/train_b.py",
        SPAWN_DAEMON
        + """
mine = daemon('b.pid')
deadline = time.monotonic() + 20
while not pathlib.Path('a.pid').exists() and time.monotonic() < deadline:
    time.sleep(0.05)
theirs = int(pathlib.Path('a.pid').read_text())
def gone(pid):
    try:
        return pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] == 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return True
while time.monotonic() < deadline:
    if gone(theirs):
        break
    time.sleep(0.05)
else:
    sys.exit("a's daemon outlived job a")
time.sleep(0.5)
os.kill(mine, 0)  # raises if my own daemon was killed while I run
print('ok', flush=True)
""",
    )
    result = project.run("--parallel", "--max-workers", "2", "--cpus", "2")
    assert result.returncode == 0, (project.root / "logs/b.log").read_text()
    assert [project.jobs()[j]["status"] for j in "ab"] == ["succeeded", "succeeded"]
    for name in ("a.pid", "b.pid"):
        assert not alive(int((project.root / name).read_text()))


def test_flood_of_500_mb_is_logged_completely(project: Project) -> None:
    project.script(
        "training/train_flood.py",
        """
        import sys
        block = b"x" * (1 << 20)
        for _ in range(500):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.write(b"\\nend of flood\\n")
    """,
    )
    assert project.run().returncode == 0
    log = project.root / "logs/flood.log"
    assert log.stat().st_size > 500 * (1 << 20)
    with log.open("rb") as handle:
        handle.seek(-100, os.SEEK_END)
        assert b"end of flood\n=== exit 0 after " in handle.read()


# ------------------------------------------------------------- the orchestrator itself
def test_a_second_run_on_the_same_output_root_is_refused(project: Project) -> None:
    project.script("training/train_slow.py", "import time; time.sleep(3)\n")
    first = subprocess.Popen(
        [sys.executable, str(SHIM)],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = project.root / ".train_orch/run.lock"
    deadline = 60.0
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        deadline -= 0.05
        assert deadline > 0
        subprocess.run(["sleep", "0.05"], check=True)
    second = project.run()
    assert second.returncode == 2
    assert f"error: another run (pid {first.pid}) is using {project.root}" in second.stderr
    assert first.wait(timeout=60) == 0


def test_a_stale_lock_from_a_dead_run_is_taken_over(project: Project) -> None:
    project.script("training/train_a.py")
    (project.root / ".train_orch").mkdir()
    (project.root / ".train_orch/run.lock").write_text("999999\n")
    assert project.run().returncode == 0


def test_output_root_that_cannot_be_written(project: Project) -> None:
    project.script("training/train_a.py")
    (project.root / "blocked").write_text("a file, not a directory")
    result = project.run("--output-root", "blocked/out")
    assert result.returncode == 2
    assert "error: cannot write to" in result.stderr and "Not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_full_disk_leaves_the_previous_summary_whole(project: Project) -> None:
    for index in range(40):
        project.script(f"training/train_job{index:02d}.py", "print('ok')\n")
    assert project.run().returncode == 0
    before = (project.root / "summaries/latest.json").read_text()
    limit = 16 * 1024  # smaller than the summary of 40 jobs: its write fails mid-way

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, str(SHIM), "--force"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=small_files,
    )
    assert result.returncode == 1
    assert "error: could not write the summary: File too large; the journal" in result.stderr
    # the journal of 40 jobs is past the limit too: it is not offered as the run's record
    assert "stopped: File too large" in result.stderr
    assert "stopped early too: the table below is all\n" in result.stderr
    assert "has the run" not in result.stderr
    assert "Traceback" not in result.stderr
    assert (project.root / "summaries/latest.json").read_text() == before
    assert not list((project.root / "summaries").glob(".*.tmp"))


# ---------------------------------------------------------------------- bad input
def test_ids_that_would_escape_the_output_root_are_made_safe(
    make_project: Callable[[str], Project],
) -> None:
    # The project one level down, so that the dir above it is this test's alone: the
    # search below then finds this run's files, not another test's.
    project = make_project("project")
    long_id = "x" * 300
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          "../escape": {{command: [sh, -c, "touch $TRAIN_ORCH_OUTPUT_DIR/f"]}}
          "/abs/path": {{command: [sh, -c, "touch $TRAIN_ORCH_OUTPUT_DIR/f"]}}
          {long_id}: {{command: [sh, -c, "touch $TRAIN_ORCH_OUTPUT_DIR/f"]}}
          swept:
            command: [sh, -c, "touch $TRAIN_ORCH_OUTPUT_DIR/f"]
            matrix: {{where: ["../../up", "/root"]}}
    """,
    )
    assert project.run().returncode == 0, project.summary()
    written = [p for p in project.root.parent.rglob("f") if p.name == "f"]
    assert len(written) == 5
    assert all(project.root in p.parents for p in written)
    assert all(len(p.parent.name) < 120 for p in written)


def test_missing_discover_root_and_empty_selection(project: Project) -> None:
    project.script("training/train_a.py")
    result = project.run("--discover-roots", "nope")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "error: --discover-roots nope: no such directory",
    )
    result = project.run("--only", "a", "--exclude", "a")
    assert result.returncode == 2
    assert "(--allow-empty makes that a green run)" in result.stderr
    empty = project.run("--only", "a", "--exclude", "a", "--allow-empty")
    assert empty.returncode == 0
    assert project.summary()["jobs"] == []


def test_ten_megabyte_config(project: Project) -> None:
    project.script("training/train_a.py")
    filler = "# " + "x" * 1000 + "\n"
    project.config("configs/jobs.yaml", "jobs:\n  a: {epochs: 2}\n" + filler * 10_000)
    assert (project.root / "configs/jobs.yaml").stat().st_size > 10_000_000
    assert project.run("--dry-run").returncode == 0


# -------------------------------------------------------------------------- secrets
def test_secrets_never_reach_anything_written(project: Project) -> None:
    token, db_url = "tok-3f9a8b7c6d5e", "postgres://user:pw-81c2@db/prod"
    # Takes any arguments and, carelessly, prints them: its log must not keep them either.
    project.script("training/train_a.py", "import sys\nprint('args:', *sys.argv[1:])\n")
    project.config(
        "configs/jobs.yaml",
        f"""
        jobs:
          a:
            env: {{DB_URL: "{db_url}"}}
            redact: [DB_URL]
            args: [--connect, "{db_url}"]
    """,
    )
    result = project.run(
        "-v",
        "--extra-args",
        f"--api {token}",
        env={"SERVICE_API_TOKEN": token, "GITHUB_ACTIONS": "true"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dry = project.run(
        "--dry-run",
        "-v",
        "--format",
        "json",
        "--extra-args",
        f"--api {token}",
        env={"SERVICE_API_TOKEN": token},
    )
    texts = [result.stdout, result.stderr, dry.stdout]
    written = ("logs", "summaries", ".train_orch")  # what the orchestrator wrote
    texts += [
        p.read_text(errors="replace")
        for p in project.root.rglob("*")
        if p.is_file() and p.relative_to(project.root).parts[0] in written
    ]
    for text in texts:
        assert token not in text and db_url not in text
    log = (project.root / "logs/a.log").read_text()
    assert "--api ***" in log.splitlines()[0]  # our header
    assert "args: --connect *** --api ***" in log  # the child's own output
    assert "***" in json.dumps(project.summary()["jobs"][0]["argv"])


# ----------------------------------------------------------------------------- load
def test_two_thousand_jobs_are_all_recorded_in_little_memory(project: Project) -> None:
    jobs = "".join(f"  j{index:04d}: {{command: [true]}}\n" for index in range(2000))
    project.config("configs/jobs.yaml", "jobs:\n" + jobs)
    # The orchestrator's own peak RSS. Not getrusage(RUSAGE_SELF).ru_maxrss: Linux carries
    # the pre-exec image's peak into it, and that image is a fork of this (large) pytest
    # process. VmHWM belongs to the process's own address space, fresh after exec.
    probe = (
        f"import runpy, sys\nsys.path.insert(0, {str(REPO)!r})\n"
        f"sys.argv = [{str(SHIM)!r}, '--parallel', "
        "'--max-workers', '2', '--cpus', '2', '-q']\ntry:\n    runpy.run_path(sys.argv[0], "
        "run_name='__main__')\nfinally:\n    status = open('/proc/self/status').read()\n"
        "    hwm = [l for l in status.splitlines() if l.startswith('VmHWM')][0]\n"
        "    print('maxrss', hwm.split()[1], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    summary = load_summary(project.root / "summaries/latest.json")
    assert summary["counts"] == {"succeeded": 2000}
    finished = [line for line in project.journal() if line["event"] == "job_finished"]
    assert len(finished) == 2000
    peak_kib = int(result.stderr.rsplit("maxrss", 1)[1])
    assert peak_kib < 200 * 1024, f"orchestrator peaked at {peak_kib} KiB"


def test_sigterm_while_a_job_sleeps_forever(project: Project) -> None:
    project.script(
        "training/train_forever.py",
        "import time\nprint('up', flush=True)\nwhile True:\n    time.sleep(1)\n",
    )
    proc = subprocess.Popen(
        [sys.executable, str(SHIM), "--grace", "1"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = project.root / "logs/forever.log"
    for _ in range(600):
        if log.exists() and "up" in log.read_text():
            break
        subprocess.run(["sleep", "0.05"], check=True)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    job = project.jobs()["forever"]
    assert job["status"] == "cancelled"
    assert log.read_text().rstrip().splitlines()[-1].startswith("=== cancelled after ")


def test_control_characters_in_a_job_id_are_a_config_error(project: Project) -> None:
    project.config("configs/jobs.yaml", 'jobs:\n  "nul\\0id": {command: [true]}\n')
    result = project.run("--list")
    assert result.returncode == 2
    assert "configs/jobs.yaml:2:3: jobs.nul" in result.stderr
    assert "a job id must be printable text" in result.stderr
