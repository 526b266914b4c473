"""The GitHub path end to end: the bundled workflow, its reusable workflow and the composite
action, run by the local runner (tests/gha_runner.py) with GitHub's semantics, on a small
repository of fast training scripts. Each scenario asserts what a user sees: each job's
conclusion, the step summary (verdict, table, a Mermaid chart the real package accepts) and
the artifacts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, load_summary, write
from gha_runner import Cancel, JobInfo, JobResult, LocalRunner, PullRequest, RunResult, Timing
from mermaid_check import assert_mermaid_ok

WORKFLOW = ".github/workflows/training-orchestrator.yml"
#: The fast jobs the dispatch runs; `broken` and `slow` only when asked for by name.
JOBS = ["alpha", "beta", "delta", "gamma"]

TRAIN = """
import argparse, json, os, pathlib, signal, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
out = pathlib.Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
name = pathlib.Path(__file__).stem.removeprefix("train_")
quality = pathlib.Path("quality", name + ".txt")
accuracy = float(quality.read_text()) if quality.exists() else 0.9
if name == "broken":
    sys.exit("broken on purpose")
if name == "killer":  # as the OOM killer or a lost runner would: no summary, no goodbye
    os.kill(os.getppid(), signal.SIGKILL)
if name == "slow":
    def checkpoint(*_):
        out.joinpath("checkpoint").write_text("saved")
        sys.exit(143)
    signal.signal(signal.SIGTERM, checkpoint)
    out.joinpath("started").write_text("yes")
    time.sleep(60)
(out / "metrics.json").write_text(json.dumps({"accuracy": accuracy, "epochs": args.epochs}))
print("trained", name, "for", args.epochs, "epochs")
"""

CONFIG = """
jobs:
  alpha: {tags: [smoke], epochs: 10, gates: {accuracy: ">= 0.8"}}
  beta: {tags: [smoke], epochs: 10}
  gamma: {epochs: 10}
  delta: {epochs: 10, needs: [beta]}
  broken: {enabled: false}
  killer: {enabled: false}
  slow: {enabled: false}
"""

SMOKE = """
profile: smoke
jobs:
  alpha: {epochs: 2}
  beta: {epochs: 2}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def orchestrator_tree(target: Path) -> Path:
    """This checkout's tracked files but its training scripts, configs, tests and benches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    skip = ("training/", "configs/", "tests/", "bench/", "docs/")
    for name in (n.decode() for n in listed if n):
        if not name.startswith(skip) and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository holding the orchestrator, its workflows and five tiny training jobs."""
    root = orchestrator_tree(tmp_path / "repo")
    for name in ("alpha", "beta", "gamma", "delta", "broken", "killer", "slow"):
        write(root / f"training/train_{name}.py", TRAIN)
    write(root / "configs/jobs.yaml", CONFIG)
    write(root / "configs/smoke.yaml", SMOKE)
    git(root, "init", "-q", "-b", "main")
    commit(root, "the project")
    return root


@pytest.fixture
def runner(repo: Path, tmp_path: Path) -> LocalRunner:
    # GitHub's cancel ladder at a tenth of its length: the order is what is under test.
    timing = Timing(sigint_grace=0.75, sigterm_grace=0.25)
    return LocalRunner(repo, workdir=tmp_path / "gha", timing=timing)


def conclusions(result: RunResult) -> dict[str, str]:
    return {name: job.conclusion for name, job in result.jobs.items()}


def merged(result: RunResult) -> dict[str, Any]:
    return load_summary(result.artifacts["training-summary"] / "latest.json")


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {job["id"]: job["status"] for job in summary["jobs"]}


def assert_report(result: RunResult, verdict: str) -> str:
    """The merge job's step summary: the verdict first, the table with what each job used,
    charts Mermaid draws: the resource bars (two measured jobs or more), then the gantt."""
    shown = result.jobs["training / merge"].summary
    assert shown.startswith(verdict), shown[:300]
    assert "| job | status | tries | time | peak mem | cpu | metrics | gates |" in shown
    *bars, gantt = assert_mermaid_ok(shown)
    assert gantt["type"] == "gantt"
    assert [(c["type"], c["plots"][0]["type"]) for c in bars] in ([], [("xychart", "bar")] * 2)
    return shown


def test_default_dispatch(runner: LocalRunner) -> None:
    result = runner.run(WORKFLOW)
    assert conclusions(result) == {
        "training / plan": "success",
        "training / train 1/1": "success",
        "training / merge": "success",
        "checks": "success",
    }
    assert result.conclusion == "success"
    assert_report(result, "## ✅ Training run: 4 succeeded · ")
    summary = merged(result)
    assert statuses(summary) == dict.fromkeys(JOBS, "succeeded")
    assert summary["options"]["retries"] is None  # each job's own, not 0 for all
    results = result.artifacts["training-results"]
    assert sorted(p.name for p in (results / "results").iterdir()) == [
        f"{job}_results" for job in JOBS
    ]
    assert (results / "logs/alpha.log").is_file()
    assert sorted(result.artifacts) == [
        "training-results",
        "training-shard-1-of-1",
        "training-summary",
    ]
    (published,) = result.mocked_actions
    assert published.inputs["path"] == "summaries/junit.xml"
    assert result.jobs["training / merge"].outputs["exit-code"] == "0"


def test_three_shards_run_every_job_exactly_once(runner: LocalRunner) -> None:
    result = runner.run(WORKFLOW, inputs={"shards": 3})
    assert result.conclusion == "success", result.errors()
    legs = train_legs(result)
    assert [leg.name for leg in legs] == [
        "training / train 1/3",
        "training / train 2/3",
        "training / train 3/3",
    ]
    ran = [job["id"] for leg in legs for job in shard_summary(leg)["jobs"]]
    assert sorted(ran) == JOBS  # each once
    report = assert_report(result, "## ✅ Training run: 4 succeeded · ")
    assert sorted(statuses(merged(result))) == JOBS
    assert sorted(n for n in result.artifacts if n.startswith("training-shard-")) == [
        "training-shard-1-of-3",
        "training-shard-2-of-3",
        "training-shard-3-of-3",
    ]
    # Shards leave the step summary to the merge: the run page shows the run once.
    assert all(not leg.summary for leg in legs)
    print(report)  # the closing note quotes it


def train_legs(result: RunResult) -> list[JobResult]:
    return [job for job in result.legs("training") if job.name.startswith("training / train ")]


def shard_summary(leg: JobResult) -> dict[str, Any]:
    """What one runner ran, read from its own workspace."""
    assert leg.workspace is not None
    return load_summary(leg.workspace / "summaries/latest.json")


@pytest.mark.parametrize(
    ("inputs", "heading"),
    [
        ({"dry_run": True}, "## 📝 Dry run: 4 jobs (4 would run), one at a time · nothing was run"),
        ({"list_only": True}, "## 📋 4 jobs found · config: configs/jobs.yaml · nothing was run"),
    ],
    ids=["dry_run", "list_only"],
)
def test_a_preview_dispatch_shows_the_plan_and_ends_green(
    runner: LocalRunner, inputs: dict[str, Any], heading: str
) -> None:
    result = runner.run(WORKFLOW, inputs=inputs)
    assert result.conclusion == "success", result.errors()
    assert conclusions(result) == {
        "training / plan": "success",
        "training / train ${{ matrix.shard }}": "skipped",  # as GitHub names it, unexpanded
        "training / merge": "skipped",
        "checks": "skipped",
    }
    assert result.summary.startswith(heading), result.summary[:200]
    assert "| `alpha` |" in result.summary
    assert result.artifacts == {}


def test_nightly_runs_the_smoke_jobs_with_the_smoke_profile(runner: LocalRunner) -> None:
    result = runner.run(WORKFLOW, event="schedule")
    assert result.conclusion == "success", result.errors()
    summary = merged(result)
    assert statuses(summary) == {"alpha": "succeeded", "beta": "succeeded"}
    assert {job["id"]: job["metrics"]["epochs"] for job in summary["jobs"]} == {
        "alpha": 2,
        "beta": 2,
    }


def test_a_pull_request_previews_every_job(runner: LocalRunner) -> None:
    result = runner.run(WORKFLOW, event="pull_request", pull_request=PullRequest(7, "feature"))
    assert result.conclusion == "success", result.errors()
    assert result.summary.startswith("## 📝 Dry run: 4 jobs")
    assert result.jobs["training / train ${{ matrix.shard }}"].conclusion == "skipped"


def test_a_failing_required_job_fails_the_run_and_everything_is_still_uploaded(
    runner: LocalRunner,
) -> None:
    result = runner.run(WORKFLOW, inputs={"only": "alpha, broken", "shards": 2})
    assert result.conclusion == "failure"
    legs = {leg.name: leg.conclusion for leg in train_legs(result)}
    assert sorted(legs.values()) == ["failure", "success"]  # the failing shard shows red
    assert result.jobs["training / merge"].conclusion == "failure"
    report = assert_report(result, "## ❌ Training run: 1 succeeded · 1 failed · ")
    assert "broken on purpose" in report  # the failing job's log tail
    assert statuses(merged(result)) == {"alpha": "succeeded", "broken": "failed"}
    assert (result.artifacts["training-results"] / "logs/broken.log").is_file()
    assert result.jobs["training / merge"].outputs["exit-code"] == "1"


@pytest.mark.parametrize("shards", [1, 2])
def test_a_shard_that_dies_without_a_summary_fails_the_merge(
    runner: LocalRunner, shards: int
) -> None:
    result = runner.run(WORKFLOW, inputs={"only": "alpha, killer", "shards": shards})
    assert result.conclusion == "failure"
    merge = result.jobs["training / merge"]
    assert (merge.conclusion, merge.outputs["exit-code"]) == ("failure", "1")
    summary = merged(result)
    killer = next(job for job in summary["jobs"] if job["id"] == "killer")
    assert killer["status"] == "skipped"
    assert re.fullmatch(r"shard \d/\d never reported it", killer["reason"])
    # Alone on its runner alpha survives; sharing it, it died unreported with the killer.
    alpha = "succeeded" if shards == 2 else "skipped"
    assert statuses(summary) == {"alpha": alpha, "killer": "skipped"}
    assert merge.summary.startswith("## ❌ Training run: ")
    assert "| `killer` | ⏭️ skipped |" in merge.summary


def degrade(repo: Path, job: str, accuracy: float) -> None:
    write(repo / f"quality/{job}.txt", str(accuracy))
    commit(repo, f"{job} gets worse")


def test_fail_on_regression_compares_with_the_previous_run_of_the_same_profile(
    runner: LocalRunner, repo: Path
) -> None:
    first = runner.run(WORKFLOW, run_id=1)
    assert first.conclusion == "success"
    smoke = runner.run(WORKFLOW, inputs={"profile": "smoke"}, run_id=2)
    assert smoke.conclusion == "success"
    assert "_No previous run with the same profile and selection" in smoke.summary
    degrade(repo, "alpha", 0.85)  # still above its gate, but worse than before
    worse = runner.run(WORKFLOW, inputs={"fail_on_regression": True}, run_id=3)
    assert worse.conclusion == "failure"
    shown = worse.jobs["training / merge"].summary
    assert shown.startswith("## ✅ Training run: 4 succeeded")  # the run itself was fine
    compared = shown[shown.index("### Compared with the previous run") :]
    assert re.search(r"\| `alpha` \| accuracy \| 0\.9 \| 0\.85 \|.*\*\*regression\*\*", compared)
    assert (
        "_Base: the previous run with the same profile and selection (cache `training-summary-"
        in shown
    )
    comparison = json.loads((worse.artifacts["training-summary"] / "comparison.json").read_text())
    assert [r["job"] for r in comparison["regressions"]] == ["alpha"]
    smoke_again = runner.run(
        WORKFLOW, inputs={"profile": "smoke", "fail_on_regression": True}, run_id=4
    )
    assert smoke_again.conclusion == "failure"  # the smoke base (alpha 0.9) regressed too
    assert "(cache `training-summary-" in smoke_again.summary
    keys = [entry.key for entry in runner.cache.entries()]
    assert len({key.rsplit("-", 3)[0] for key in keys}) == 2  # two baselines: full and smoke


def test_a_cache_saved_between_plan_and_train_changes_nothing(
    runner: LocalRunner, repo: Path
) -> None:
    first = runner.run(WORKFLOW, inputs={"shards": 2}, run_id=1)
    assert first.conclusion == "success"
    # Another run's summary, where alpha took long: a split recomputed from it would differ.
    newer = merged(first)
    for job in newer["jobs"]:
        job["duration_s"] = 500.0 if job["id"] == "alpha" else 1.0
    slow_alpha = newer

    def nightly_saves_a_newer_summary(job: JobInfo) -> None:
        if job.name.startswith("training / train"):
            for entry in runner.cache.entries():
                runner.cache.put(
                    entry.key + "-newer",
                    {"previous/latest.json": json.dumps(slow_alpha)},
                    path="previous/",
                )

    result = runner.run(
        WORKFLOW, inputs={"shards": 2}, run_id=2, before_job=nightly_saves_a_newer_summary
    )
    assert result.conclusion == "success", result.errors()
    assert sorted(statuses(merged(result))) == JOBS
    ran = [job["id"] for leg in train_legs(result) for job in shard_summary(leg)["jobs"]]
    assert sorted(ran) == JOBS


def test_a_rerun_saves_and_uploads_again(runner: LocalRunner) -> None:
    first = runner.run(WORKFLOW, run_id=41)
    again = runner.run(WORKFLOW, run_id=41, run_attempt=2)
    assert (first.conclusion, again.conclusion) == ("success", "success"), again.errors()
    keys = sorted(entry.key for entry in runner.cache.entries())
    assert [key.rsplit("-", 2)[1:] for key in keys] == [["41", "1"], ["41", "2"]]
    assert not [a for a in again.annotations if a.level == "error"]


def test_cancelling_stops_the_jobs_gracefully_and_still_uploads_the_summary(
    runner: LocalRunner, repo: Path
) -> None:
    def training_started() -> bool:
        # The job installs the package meanwhile: pip's build/ dirs in the same tree come
        # and go under the glob. A vanished one is "not yet"; the runner polls again.
        try:
            return any((runner.workdir).glob("**/results/slow_results/started"))
        except FileNotFoundError:
            return False

    result = runner.run(
        WORKFLOW,
        inputs={"only": "alpha, slow"},
        cancel=Cancel("training / train 1/1", "Run this shard's jobs", training_started),
    )
    assert result.conclusion == "cancelled"
    assert result.jobs["training / train 1/1"].conclusion == "cancelled"
    shard = result.artifacts["training-shard-1-of-1"]
    summary = load_summary(shard / "summaries/latest.json")
    assert summary["interrupted_by"] == "SIGINT"
    assert summary["exit_code"] == 130
    assert (shard / "results/slow_results/checkpoint").read_text() == "saved"  # its grace
    shown = result.jobs["training / merge"].summary
    assert "interrupted by SIGINT" in shown.splitlines()[0]
    assert_mermaid_ok(shown)


HOST_SCRIPT = """
import argparse, json, os, pathlib, stat
import tinydep  # from the repository's own requirements file
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
out = pathlib.Path(parser.parse_args().output_dir)
out.mkdir(parents=True, exist_ok=True)
credentials = pathlib.Path.home() / ".kaggle" / "kaggle.json"
metrics = {
    "kaggle_mode": stat.S_IMODE(credentials.stat().st_mode),
    "kaggle_key_matches": float(
        json.loads(credentials.read_text())["key"] == os.environ["KAGGLE_KEY"]
    ),
    "tinydep": tinydep.VALUE,
}
(out / "metrics.json").write_text(json.dumps(metrics))
"""


def test_the_host_repositorys_requirements_and_kaggle_credentials(
    runner: LocalRunner, repo: Path
) -> None:
    write(repo / "training/train_kaggle.py", HOST_SCRIPT)
    write(repo / "vendor/tinydep/tinydep.py", "VALUE = 7\n")
    write(
        repo / "vendor/tinydep/pyproject.toml",
        '[project]\nname = "tinydep"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
    )
    write(repo / "requirements-train.txt", "./vendor/tinydep\n")
    write(repo / "requirements.txt", "a-gpu-only-package-not-to-install==9.9\n")
    commit(repo, "a job with requirements and Kaggle data")
    key = "kaggle-key-8c1f0e"
    result = runner.run(
        WORKFLOW,
        inputs={"only": "kaggle", "requirements": "requirements-train.txt", "verbose": True},
        secrets={"KAGGLE_USERNAME": "someone", "KAGGLE_KEY": key},
    )
    assert result.conclusion == "success", result.errors()
    (job,) = merged(result)["jobs"]
    assert job["metrics"] == {"kaggle_mode": 0o600, "kaggle_key_matches": 1.0, "tinydep": 7}
    train = result.jobs["training / train 1/1"]
    assert train.python_versions == ("3.10",)  # the oldest Python the package supports
    for artifact in result.artifacts.values():
        for path in artifact.rglob("*"):
            assert not path.is_file() or key.encode() not in path.read_bytes(), path


README_SNIPPET = re.compile(r"this is the whole workflow.*?```yaml\n(.*?)```", re.S)


def test_another_repository_uses_the_action_with_the_readme_snippet(tmp_path: Path) -> None:
    snippet = README_SNIPPET.search((REPO / "README.md").read_text())
    assert snippet, "README shows the workflow another repository needs"
    theirs = tmp_path / "theirs"
    write(theirs / ".github/workflows/training.yml", snippet.group(1))
    write(
        theirs / "scripts/train_their_model.py",
        textwrap.dedent(TRAIN).replace("name = pathlib.Path", 'name = "theirs" or pathlib.Path'),
    )
    git(theirs, "init", "-q", "-b", "main")
    commit(theirs, "their project")
    ours = orchestrator_tree(tmp_path / "orchestrator")
    runner = LocalRunner(
        theirs,
        workdir=tmp_path / "gha",
        repository="someone/their-models",
        actions={"training-orchestrator/training-orchestrator": ours},
    )
    result = runner.run(".github/workflows/training.yml")
    assert result.conclusion == "success", result.errors()
    assert result.summary.startswith("## ✅ Training run: 1 succeeded · ")
    assert_mermaid_ok(result.summary, count=1)
    summary = load_summary(result.artifacts["training-results"] / "summaries/latest.json")
    assert statuses(summary) == {"their_model": "succeeded"}


@pytest.fixture(autouse=True)
def _no_stray_processes(tmp_path: Path) -> Iterator[None]:
    """A scenario must leave no process of its own behind (found by their working dirs, so
    scenarios running beside it in other workers are left alone)."""
    yield
    leftovers = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if (proc / "cwd").readlink().is_relative_to(tmp_path):
                leftovers.append(int(proc.name))
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"left running: {leftovers}"
