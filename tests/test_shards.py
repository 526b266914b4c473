"""Sharding: disjoint parts that cover the selection, balanced, and merged back whole."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from mermaid_check import assert_mermaid_ok

from orchestrator.errors import OrchestratorError
from orchestrator.shards import parse_shard, split

IDS = [f"job{i:02d}" for i in range(13)]
SKEWED = {
    "job00": 600.0,
    "job01": 300.0,
    "job02": 290.0,
    **{f"job{i:02d}": 10.0 for i in range(3, 13)},
}


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("durations", [{}, SKEWED], ids=["by-count", "by-duration"])
def test_parts_are_disjoint_and_cover_everything(count: int, durations: dict[str, float]) -> None:
    parts = split(IDS, count, durations)
    assert len(parts) == count
    flat = [job for part in parts for job in part]
    assert sorted(flat) == IDS
    assert len(flat) == len(set(flat))
    assert all(part == sorted(part) for part in parts)  # each part keeps plan order
    assert split(IDS, count, durations) == parts  # every runner computes the same split


def test_duration_balancing_beats_count_balancing_on_skew() -> None:
    def makespan(parts: list[list[str]]) -> float:
        return max(sum(SKEWED[j] for j in part) for part in parts)

    by_duration = makespan(split(IDS, 3, SKEWED))
    by_count = makespan(split(IDS, 3, {}))
    assert by_duration == 600.0  # the longest job alone: the best any split can do
    assert by_count > by_duration


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", ""])
def test_bad_shard_spec(text: str) -> None:
    with pytest.raises(OrchestratorError, match="expected K/N"):
        parse_shard(text)


def make_jobs(project: Project) -> None:
    for name in ("a", "b", "c", "d", "e"):
        project.script(f"training/train_{name}.py")
    project.script("training/train_bad.py", "import sys; sys.exit(5)\n")
    project.config("configs/jobs.yaml", "jobs:\n  c: {epochs: 9}\n  bad: {optional: true}\n")


def test_three_shards_merged_equal_a_one_shot_run(make_project: Callable[[str], Project]) -> None:
    whole = make_project("whole")
    make_jobs(whole)
    assert whole.run().returncode == 0
    sharded = make_project("sharded")
    make_jobs(sharded)
    for k in (1, 2, 3):
        result = sharded.run("--shard", f"{k}/3", "--output-root", f"shards/shard-{k}")
        assert result.returncode == 0, result.stderr
    result = sharded.run("merge", "shards", "--expect-shards", "3")
    assert result.returncode == 0, result.stderr
    merged = sharded.summary()

    def essence(summary: dict[str, Any]) -> dict[str, tuple[str, dict[str, float]]]:
        return {job["id"]: (job["status"], job["metrics"]) for job in summary["jobs"]}

    assert essence(merged) == essence(whole.summary())
    assert merged["counts"] == {"succeeded": 5, "failed": 1}
    logs = {job["id"]: job["log_path"] for job in merged["jobs"]}
    assert all((sharded.root / path).is_file() for path in logs.values())
    assert (sharded.root / "summaries/summary.md").is_file()
    assert (sharded.root / "summaries/junit.xml").is_file()


def test_merge_exit_code_is_the_whole_runs(project: Project) -> None:
    project.script("training/train_a.py")
    project.script("training/train_bad.py", "import sys; sys.exit(5)\n")
    for k in (1, 2):
        project.run("--shard", f"{k}/2", "--output-root", f"s{k}")
    assert project.run("merge", "s1", "s2").returncode == 1
    for k in (1, 2):  # one shard all green, the other all red: the whole run is partial
        project.run("--allow-partial-success", "--shard", f"{k}/2", "--output-root", f"p{k}")
    assert project.run("merge", "p1", "p2").returncode == 0


def test_missing_shard_fails_the_merge(project: Project) -> None:
    project.script("training/train_a.py")
    project.script("training/train_b.py")
    project.run("--shard", "1/2", "--output-root", "s1")
    result = project.run("merge", "s1", "--expect-shards", "2")
    assert result.returncode == 1
    assert "expected 2 shard summaries, found 1" in result.stderr


def test_merge_refuses_a_job_in_two_summaries(project: Project) -> None:
    project.script("training/train_a.py")
    project.run("--output-root", "s1")
    project.run("--output-root", "s2")
    result = project.run("merge", "s1", "s2")
    assert result.returncode == 2
    assert "merge: job 'a' appears in two summaries" in result.stderr


def test_an_empty_shard_is_a_green_empty_run(project: Project) -> None:
    project.script("training/train_a.py")
    result = project.run("--shard", "2/2")
    assert result.returncode == 0, result.stderr
    assert project.summary()["jobs"] == []


def test_plan_shards_matrix(project: Project) -> None:
    make_jobs(project)
    previous = {"jobs": [{"id": "a", "status": "succeeded", "duration_s": 100.0}]}
    (project.root / "durations.json").write_text(json.dumps(previous))
    result = project.run(
        "--exclude", "bad", "--durations", "durations.json", "plan-shards", "9", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    shards = json.loads(result.stdout)["include"]
    assert [s["shard"] for s in shards] == ["1/5", "2/5", "3/5", "4/5", "5/5"]  # no empty runner
    assert shards[0]["jobs"] == ["a"]


def test_jobs_linked_by_needs_share_a_runner() -> None:
    ids = ["a", "b", "c", "d", "e", "f"]
    needs = {"c": ["a"], "e": ["c", "b"]}
    for count in (2, 3):
        parts = split(ids, count, {}, needs)
        holder = next(part for part in parts if "e" in part)
        assert {"a", "b", "c", "e"} <= set(holder)
        assert sorted(j for part in parts for j in part) == ids


def github_env(tmp: Path, name: str) -> dict[str, str]:
    """The files GitHub gives a step, fresh, as `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`."""
    (tmp / name).mkdir()
    return {
        "GITHUB_STEP_SUMMARY": str(tmp / name / "summary.md"),
        "GITHUB_OUTPUT": str(tmp / name / "output"),
    }


def step_outputs(env: dict[str, str]) -> dict[str, str]:
    """`name<<DELIM` blocks, read as the runner reads them."""
    lines = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    outputs, index = {}, 0
    while index < len(lines):
        name, _, delimiter = lines[index].partition("<<")
        end = lines.index(delimiter, index + 1)
        outputs[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return outputs


def planned(project: Project, count: int, *flags: str) -> dict[str, Any]:
    result = project.run(*flags, "plan-shards", str(count), "--format", "json")
    assert result.returncode == 0, result.stderr
    matrix: dict[str, Any] = json.loads(result.stdout)
    return matrix


def run_shard(project: Project, entry: dict[str, Any], env: dict[str, str] | None = None) -> int:
    shard_env = {
        "TRAIN_ORCH_SHARD": entry["shard"],
        "TRAIN_ORCH_SHARD_JOBS": json.dumps(entry["jobs"]),
    }
    result = project.run(
        "--output-root", f"shards/{entry['label']}", env={**shard_env, **(env or {})}
    )
    return result.returncode


def test_merge_writes_the_whole_run_to_the_step_summary(project: Project, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        project.script(f"training/train_{name}.py")
    matrix = planned(project, 2)
    shard_envs = [github_env(tmp_path, f"shard{k}") for k in (1, 2)]
    for entry, env in zip(matrix["include"], shard_envs, strict=True):
        assert run_shard(project, entry, env) == 0
        assert not Path(env["GITHUB_STEP_SUMMARY"]).exists()  # the merge job shows the run
        assert step_outputs(env)["exit-code"] == "0"
    env = github_env(tmp_path, "merge")
    result = project.run("merge", "shards", "--expect-plan", json.dumps(matrix), env=env)
    assert result.returncode == 0, result.stderr
    shown = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert shown.startswith("## ✅ Training run: 3 succeeded · ")
    assert "| `c` | ✅ succeeded |" in shown
    *bars, gantt = assert_mermaid_ok(shown, count=3)  # peak memory and CPU bars, the gantt
    assert [sorted(bar["xAxis"]) for bar in bars] == [["a", "b", "c"]] * 2  # every shard's jobs
    sections = {t["section"] for t in gantt["tasks"]}
    assert sections == {"shard 1/2 · worker 1", "shard 2/2 · worker 1"}  # runners apart
    assert project.summary()["options"]["shard"] is None
    outputs = step_outputs(env)
    assert outputs["exit-code"] == "0"
    assert outputs["verdict"].startswith("✅ Training run: 3 succeeded")
    assert outputs["summary-path"].endswith("_merged.json")


def test_each_runner_runs_the_planned_jobs_whatever_its_own_cache_says(project: Project) -> None:
    for name in ("a", "b", "c", "d"):
        project.script(f"training/train_{name}.py")
    # The plan job saw no durations; by the time a runner starts, another run has saved
    # a cache where `a` is slow. Recomputing the split there would move jobs around.
    matrix = planned(project, 2)
    slow_a = {
        "jobs": [
            {"id": i, "status": "succeeded", "duration_s": 500.0 if i == "a" else 1.0}
            for i in "abcd"
        ]
    }
    (project.root / "newer.json").write_text(json.dumps(slow_a))
    recomputed = [
        set(planned(project, 2, "--durations", "newer.json")["include"][k]["jobs"]) for k in (0, 1)
    ]
    assert recomputed != [set(e["jobs"]) for e in matrix["include"]]  # what --shard K/N risked
    for entry in matrix["include"]:
        assert run_shard(project, entry, {"TRAIN_ORCH_DURATIONS": "newer.json"}) == 0
    result = project.run("merge", "shards", "--expect-plan", json.dumps(matrix))
    assert result.returncode == 0, result.stderr
    assert sorted(project.jobs()) == ["a", "b", "c", "d"]


def test_merge_lists_a_planned_job_no_shard_ran(project: Project, tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        project.script(f"training/train_{name}.py")
    matrix = planned(project, 2)
    first, second = matrix["include"]
    *ran, missing = second["jobs"]
    run_shard(project, first)
    run_shard(project, {**second, "jobs": ran})  # a runner that disagreed with the plan
    env = github_env(tmp_path, "merge")
    result = project.run("merge", "shards", "--expect-plan", json.dumps(matrix), env=env)
    assert result.returncode == 1, result.stderr
    job = project.jobs()[missing]
    assert (job["status"], job["reason"]) == ("skipped", "shard 2/2 never reported it")
    assert f"| `{missing}` | ⏭️ skipped |" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_merge_refuses_jobs_the_plan_gave_no_shard(project: Project) -> None:
    for name in ("a", "b"):
        project.script(f"training/train_{name}.py")
    project.run("--output-root", "shards/all")
    plan = {"include": [{"shard": "1/1", "label": "1-of-1", "jobs": ["a"]}]}
    result = project.run("merge", "shards", "--expect-plan", json.dumps(plan))
    assert result.returncode == 2
    assert "'b' ran but the plan gave no shard that job" in result.stderr


def test_a_runner_that_does_not_know_a_planned_job_stops(project: Project) -> None:
    project.script("training/train_a.py")
    result = project.run("--shard-jobs", '["a", "gone"]')
    assert result.returncode == 2
    assert "--shard-jobs: 'gone' not among the selected jobs here" in result.stderr
    assert project.run("--shard-jobs", "a b").returncode == 2  # JSON only: ids may hold spaces


@pytest.mark.parametrize(
    ("flag", "heading"),
    [("--dry-run", "## 📝 Dry run: 2 jobs (2 would run)"), ("--list", "## 📋 2 jobs found")],
)
def test_a_preview_is_the_step_summary(
    project: Project, tmp_path: Path, flag: str, heading: str
) -> None:
    project.script("training/train_a.py")
    project.script("training/train_b |b.py")
    env = github_env(tmp_path, "preview")
    result = project.run(flag, env=env)
    assert result.returncode == 0, result.stderr
    shown = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert shown.startswith(heading)
    assert "| `b \\|b` |" in shown  # the pipe escaped once: GitHub shows `b |b`
    assert not (project.root / "summaries").exists()
    markdown = project.run(flag, "--format", "markdown")
    assert markdown.stdout == shown


def test_merge_reads_only_summaries_not_a_jobs_own_latest_json(project: Project) -> None:
    project.script("training/train_a.py")
    project.run("--output-root", "shards/one")
    checkpoint = project.root / "shards/one/results/a_results/checkpoints/latest.json"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text('{"step": 100}')
    result = project.run("merge", "shards")
    assert result.returncode == 0, result.stderr
    assert sorted(project.jobs()) == ["a"]
    (project.root / "shards/one/summaries/latest.json").write_text('{"step": 1}')
    broken = project.run("merge", "shards")
    assert broken.returncode == 2
    assert broken.stderr.endswith("latest.json: not a run summary: no schema_version\n")


@pytest.mark.parametrize(
    "plan",
    [
        {"include": [{"shard": "1/2", "jobs": ["a"]}, {"shard": "1/2", "jobs": ["b"]}]},
        {"include": [{"shard": "1/1", "jobs": "ab"}]},
    ],
    ids=["a label twice", "jobs not a list"],
)
def test_a_plan_that_is_not_one_is_refused(project: Project, plan: dict[str, Any]) -> None:
    project.script("training/train_a.py")
    project.run("--output-root", "shards/one")
    result = project.run("merge", "shards", "--expect-plan", json.dumps(plan))
    assert result.returncode == 2
    assert "--expect-plan: not a plan-shards matrix" in result.stderr


def test_every_shard_dead_is_still_a_report(project: Project, tmp_path: Path) -> None:
    plan = {"include": [{"shard": "1/2", "jobs": ["a"]}, {"shard": "2/2", "jobs": ["b c"]}]}
    (project.root / "shards").mkdir(parents=True)
    env = {**github_env(tmp_path, "merge"), "TRAIN_ORCH_EXPECT_PLAN": json.dumps(plan)}
    result = project.run("merge", "shards", env=env)
    assert result.returncode == 1
    assert {j: (s["status"], s["reason"]) for j, s in project.jobs().items()} == {
        "a": ("skipped", "shard 1/2 never reported it"),
        "b c": ("skipped", "shard 2/2 never reported it"),
    }
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().startswith("## ❌ Training run: 2 skipped")


def test_an_empty_job_list_runs_nothing(project: Project) -> None:
    project.script("training/train_a.py")
    result = project.run("--shard", "2/2", "--shard-jobs", "[]")
    assert result.returncode == 0, result.stderr
    assert project.summary()["jobs"] == []


def test_a_reason_quoting_a_job_id_opens_no_html_element(project: Project) -> None:
    project.script("training/train_x<details>.py", "import sys; sys.exit(1)\n")
    project.script("training/train_y.py")
    project.config("configs/jobs.yaml", 'jobs:\n  y: {needs: ["x<details>"]}\n')
    assert project.run().returncode == 1
    text = (project.root / "summaries/summary.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `y` |"))
    assert "upstream 'x&lt;details>' failed" in row
