"""`--list` and `--dry-run` as values (issue 18, point 5): a small plan and its decisions in,
the JSON a tool reads, the flag letters and the graph levels out, with no process started.
"""

from __future__ import annotations

import json

import pytest

from orchestrator.decide import Decisions
from orchestrator.models import JobSpec, Plan, ReusedResult, RunOptions, Status
from orchestrator.plan import build_plan
from orchestrator.report.listing import (
    _plan_json,
    decision,
    flag_letters,
    graph_levels,
    list_jobs,
    plan_has_graph,
    shown_command,
    shown_env,
)

THREADS_1 = dict.fromkeys(
    (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ),
    "1",
)

PREP = JobSpec(id="prep", script="train_prep.py", flags=("--output-dir", "--seed"), seed=3)
FIT = JobSpec(
    id="fit",
    command=("make", "fit", "TOKEN=s3cret"),
    needs=("prep",),
    env=(("API_TOKEN", "s3cret"),),
    retries=1,
    optional=True,
    tags=("slow",),
)
REPORT = JobSpec(id="report", command=("echo", "done"), needs=("prep", "fit"))


def plan(*specs: JobSpec) -> Plan:
    return build_plan(
        specs, RunOptions(output_root="out"), python="py", cpu_count=2, inherited_env={}
    )


def decisions() -> Decisions:
    return Decisions(
        reused={"prep": ReusedResult(Status.CACHED, "unchanged since run x")},
        why_run={"fit": "script changed", "report": "no earlier run"},
    )


def test_the_dry_run_json_of_a_small_plan_is_this_value() -> None:
    graph = plan(PREP, FIT, REPORT)
    document = _plan_json(graph, decisions(), graph_levels(graph), {})
    jobs = document.pop("jobs")
    assert document == {
        "output_root": "out",
        "log_dir": "out/logs",
        "summary_dir": "out/summaries",
        "max_workers": 1,
        "resources": {
            "cpus": 2,
            "memory_bytes": None,  # no pool given: nothing counts memory
            "memory_source": None,
            "gpu_devices": None,
            "gpu_source": None,
        },
        "edges": [["prep", "fit"], ["prep", "report"], ["fit", "report"]],
    }
    assert jobs[1] == {
        "id": "fit",
        "argv": ["make", "fit", "TOKEN=***"],  # the secret's value, wherever it appears
        "command": "make fit TOKEN=***",
        "cwd": ".",
        "env": {
            "PYTHONUNBUFFERED": "1",
            **THREADS_1,
            "API_TOKEN": "***",
            "TRAIN_ORCH_OUTPUT_DIR": "out/results/fit_results",
            "TRAIN_ORCH_JOB_ID": "fit",
            "TRAIN_ORCH_NEEDS_PREP_DIR": "out/results/prep_results",
        },
        "output_dir": "out/results/fit_results",
        "log_path": "out/logs/fit.log",
        "retries": 1,
        "cpus": 1,
        "memory_bytes": None,
        "gpus": 0.0,
        "optional": True,
        "tags": ["slow"],
        "needs": ["prep"],
        "needs_outside_run": [],
        "level": 1,
        "decision": {"action": "run", "reason": "script changed"},
        "not_runnable": None,
        "knobs": [],  # a command takes what it is given
        "knobs_missing": {},
    }
    assert [(j["id"], j["level"], j["decision"]["action"]) for j in jobs] == [
        ("prep", 0, "cached"),
        ("fit", 1, "run"),
        ("report", 2, "run"),
    ]
    assert jobs[0]["command"] == "py train_prep.py --output-dir out/results/prep_results --seed 3"


def test_a_plan_in_json_is_what_json_can_carry() -> None:
    graph = plan(PREP, FIT, REPORT)
    document = _plan_json(graph, decisions(), graph_levels(graph), {})
    assert json.loads(json.dumps(document)) == document


def test_graph_levels_count_the_deepest_need() -> None:
    graph = plan(PREP, FIT, REPORT)
    assert plan_has_graph(graph)
    assert graph_levels(graph) == {"prep": 0, "fit": 1, "report": 2}
    flat = plan(PREP, JobSpec(id="other", command=("true",)))
    assert not plan_has_graph(flat)
    assert graph_levels(flat) == {"prep": 0, "other": 0}


@pytest.mark.parametrize(
    ("spec", "letters"),
    [
        (
            JobSpec(id="a", script="a.py", flags=("--output-dir", "--epochs", "--folds", "--seed")),
            "O E F S",
        ),
        (PREP, "O . . S"),
        (JobSpec(id="b", script="b.py", flags=("--output_dir",)), "O . . ."),  # its spelling
        (JobSpec(id="c", script="c.py"), ". . . ."),
        (FIT, "command"),
    ],
)
def test_flag_letters_show_which_standard_flags_a_script_accepts(
    spec: JobSpec, letters: str
) -> None:
    assert flag_letters(spec) == letters


def test_a_decision_is_what_stands_or_why_the_job_runs() -> None:
    assert decision("prep", decisions()) == ("cached", "unchanged since run x")
    assert decision("fit", decisions()) == ("run", "script changed")
    assert decision("elsewhere", decisions()) == ("run", "")


def test_shown_commands_and_env_mask_secrets() -> None:
    fit = plan(PREP, FIT).jobs[1]
    assert shown_command(fit) == "make fit TOKEN=***"
    assert shown_env(fit)["API_TOKEN"] == "***"


def test_list_as_json_is_each_spec_as_found(capsys: pytest.CaptureFixture[str]) -> None:
    list_jobs(
        [PREP, JobSpec(id="broken", script="train_broken.py", error="syntax error")], [], "json"
    )
    assert json.loads(capsys.readouterr().out) == {
        "jobs": [
            {
                "id": "prep",
                "script": "train_prep.py",
                "command": None,
                "flags": ["--output-dir", "--seed"],
                "standard_flags": {"output_dir": "--output-dir", "seed": "--seed"},
                "knobs": [
                    {
                        "knob": "output_dir",
                        "spelling": "--output-dir",
                        "style": "flag",
                        "source": "declared",
                        "confidence": "certain",
                        "passed": True,
                    },
                    {"knob": "epochs", "passed": False, "why": "none found"},
                    {
                        "knob": "seed",
                        "spelling": "--seed",
                        "style": "flag",
                        "source": "declared",
                        "confidence": "certain",
                        "passed": True,
                    },
                ],
                "args_prefix": [],
                "tags": [],
                "optional": False,
                "enabled": True,
                "description": "",
                "error": None,
                "origin": [],
                "cpus": 1,
                "memory": None,
                "gpus": 0.0,
            },
            {
                "id": "broken",
                "script": "train_broken.py",
                "command": None,
                "flags": [],
                "standard_flags": {},
                "knobs": [
                    {"knob": name, "passed": False, "why": "none found"}
                    for name in ("output_dir", "epochs", "seed")
                ],
                "args_prefix": [],
                "tags": [],
                "optional": False,
                "enabled": True,
                "description": "",
                "error": "syntax error",
                "origin": [],
                "cpus": 1,
                "memory": None,
                "gpus": 0.0,
            },
        ]
    }
