"""The bundled suite end to end: every job, in parallel, smoke profile, every gate passing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import BUNDLED, REPO, SHIM, load_summary


def test_bundled_suite_runs_in_parallel_with_every_gate_passing(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SHIM),
            "--profile",
            "smoke",
            "--parallel",
            "--output-root",
            str(tmp_path),
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = load_summary(tmp_path / "summaries/latest.json")
    jobs = {job["id"]: job for job in summary["jobs"] if not job["id"].endswith("]")}
    assert sorted(jobs) == BUNDLED
    assert {job["status"] for job in jobs.values()} == {"succeeded"}
    assert all(job["gates"] for job in jobs.values())  # every bundled job is gated
    assert jobs["lightgbm_sweep"]["sweep"]["trials"]["complete"] == 4
    ensemble = jobs["ensemble"]["metrics"]
    assert ensemble["roc_auc"] >= min(ensemble["member_1_roc_auc"], ensemble["member_2_roc_auc"])
    journal = [
        json.loads(line)
        for line in next((tmp_path / "summaries").glob("journal_*.jsonl")).read_text().splitlines()
    ]
    starts = [r for r in journal if r["event"] == "attempt_started"]
    assert len(starts) >= 11  # 7 jobs and 4 trials, each an attempt of its own
