"""What `--list` and `--dry-run` say of a job's resources, and the warnings for what is
allowed but surely not meant (issue 19): the text as values, then the real CLI on a
config file, whose warnings must name its file, line and key."""

from __future__ import annotations

from conftest import Project

from orchestrator.models import JobSpec, RunOptions
from orchestrator.report.listing import asked
from orchestrator.resources import resource_warnings

MIB = 1 << 20


def test_list_shows_what_a_job_asks_for_beyond_one_cpu_auto_as_written() -> None:
    assert asked(JobSpec(id="a", command=("true",))) == ""
    big = JobSpec(id="b", command=("true",), cpus=2, memory=4096 * MIB, gpus=1.0)
    assert asked(big) == "cpus 2 · memory 4.0 GiB · gpus 1"
    learned = JobSpec(id="c", command=("true",), cpus="auto", memory="auto", memory_limit=MIB << 9)
    assert asked(learned) == "cpus auto · memory auto · memory_limit 512 MiB"


def test_flags_ray_ignores_are_warned_of_and_fine_settings_are_not() -> None:
    fine = JobSpec(id="a", command=("true",), memory=100 * MIB, memory_limit=200 * MIB)
    assert list(resource_warnings([fine], RunOptions(memory=MIB << 10, gpus=("0",)))) == []
    on_ray = RunOptions(backend="ray", memory=MIB << 10, gpus=("0",))
    assert list(resource_warnings([fine], on_ray)) == [
        "--memory is ignored with --backend ray: Ray's nodes count "
        "(a job's memory: is its Ray memory request)",
        "--gpus is ignored with --backend ray: Ray's nodes count "
        "(a job's gpus: is its Ray num_gpus)",
    ]
    learned = JobSpec(id="b", command=("true",), memory="auto", memory_limit=MIB)
    assert list(resource_warnings([learned], RunOptions())) == []  # nothing fixed to compare


CONFIG = """
defaults:
  memory_limit: 1G
jobs:
  greedy:
    command: [python3, -c, "pass"]
    cpus: 2
    memory: 2G
  modest:
    command: [python3, -c, "pass"]
    memory: 512M
  learner:
    command: [python3, -c, "pass"]
    memory: auto
    cpus: auto
"""


def test_list_dry_run_and_warnings_on_a_real_config(project: Project) -> None:
    project.config("configs/jobs.yaml", CONFIG)
    listed = project.run("--list", "--no-auto-discover")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines() == [
        "warning: configs/jobs.yaml:7: jobs.greedy.memory: greedy reserves 2.0 GiB, more than "
        "its memory_limit 1.0 GiB lets it use; other jobs wait for memory it never fills: "
        "lower memory: to the limit"
    ]
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert rows["job"].split()[-2:] == ["resources", "notes"]
    assert "cpus 2 · memory 2.0 GiB · memory_limit 1.0 GiB" in rows["greedy"]
    assert "memory 512 MiB · memory_limit 1.0 GiB" in rows["modest"]
    assert "cpus auto · memory auto · memory_limit 1.0 GiB" in rows["learner"]
    dry = project.run("--dry-run", "--no-auto-discover", "--memory", "8G", "--cpus", "2")
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr == listed.stderr  # warned of once per command, the same way
    heads = [line for line in dry.stdout.splitlines() if line.startswith("# ") and "(" in line]
    assert "# greedy  (cpus 2 · memory 2.0 GiB · memory_limit 1.0 GiB)" in heads
    assert "# modest  (memory 512 MiB · memory_limit 1.0 GiB)" in heads
    # Nothing measured yet: an auto need takes all there is, and says why.
    assert "# learner  (cpus 2 · memory 8.0 GiB · memory_limit 1.0 GiB)" in heads
    assert "# memory auto: nothing measured yet, so all 8.0 GiB (its first run, alone)" in (
        dry.stdout.splitlines()
    )
    # A warning never changes the exit code; an error still exits 2.
    bad = project.run("--dry-run", "--no-auto-discover", "--memory", "1G")
    assert bad.returncode == 2
    assert "jobs.greedy.memory: greedy needs 2.0 GiB, more than the 1.0 GiB" in bad.stderr
