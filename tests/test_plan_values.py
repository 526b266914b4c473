"""Planning and selecting as values (issue 18, point 5): specs in, a plan out, no process.

`build_plan` is given everything that varies by machine, so a plan can be compared whole;
`select` decides which specs a run gets from `--only`/`--exclude`.
"""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError, SelectionError
from orchestrator.jobs import select
from orchestrator.models import JobSpec, Knob, Plan, PlannedJob, RetryPolicy, RunOptions
from orchestrator.plan import DEFAULT_GRACE, build_plan

THREADS_1 = (
    ("OMP_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("NUMEXPR_NUM_THREADS", "1"),
    ("VECLIB_MAXIMUM_THREADS", "1"),
)


def plan(*specs: JobSpec, **options: object) -> Plan:
    return build_plan(
        specs,
        RunOptions(output_root="out", **options),  # type: ignore[arg-type]
        python="py",
        cpu_count=4,
        inherited_env={},
    )


def test_a_script_job_plans_to_exactly_this_value() -> None:
    spec = JobSpec(
        id="train_rf",
        script="train_rf.py",
        flags=("--output-dir", "--epochs", "--seed"),
        epochs=5,
        seed=7,
        params=(("max_depth", 4), ("verbose", True), ("quiet", False)),
        tags=("fast",),
    )
    assert plan(spec, epochs=2) == Plan(
        jobs=(
            PlannedJob(
                id="train_rf",
                argv=(
                    "py",
                    "train_rf.py",
                    "--output-dir",
                    "out/results/train_rf_results",
                    "--epochs",
                    "2",  # the command line overrides the config
                    "--seed",
                    "7",
                    "--max-depth",
                    "4",
                    "--verbose",
                ),
                cwd=".",
                env=(
                    ("PYTHONUNBUFFERED", "1"),
                    *THREADS_1,
                    ("TRAIN_ORCH_OUTPUT_DIR", "out/results/train_rf_results"),
                    ("TRAIN_ORCH_JOB_ID", "train_rf"),
                ),
                output_dir="out/results/train_rf_results",
                log_path="out/logs/train_rf.log",
                retries=0,
                retry=RetryPolicy(),
                timeout=None,
                grace=DEFAULT_GRACE,
                cpus=1,
                priority="normal",
                gates=(),
                optional=False,
                tags=("fast",),
                source="train_rf.py",
                script="train_rf.py",
                knobs=tuple(
                    Knob(name, flag, "flag", "declared", "certain")
                    for name, flag in [
                        ("output_dir", "--output-dir"),
                        ("epochs", "--epochs"),
                        ("seed", "--seed"),
                    ]
                ),
            ),
        ),
        output_root="out",
        log_dir="out/logs",
        summary_dir="out/summaries",
        max_workers=1,
        cpus=4,
    )


def test_the_same_specs_give_the_same_plan() -> None:
    specs = [JobSpec(id=f"j{i}", command=("true",), needs=("j0",) if i else ()) for i in range(4)]
    assert plan(*specs) == plan(*specs)


def test_a_needed_jobs_dir_is_passed_and_it_goes_first() -> None:
    planned = plan(
        JobSpec(id="train", command=("t",), needs=("prep", "elsewhere"), flags=("--inputs",)),
        JobSpec(id="prep", command=("p",)),
    )
    prep, train = planned.jobs
    assert (prep.id, train.id) == ("prep", "train")
    # Every needed job's dir follows the inputs flag, planned here or not.
    assert train.argv == (
        "t",
        "--inputs",
        "out/results/prep_results",
        "out/results/elsewhere_results",
    )
    assert ("TRAIN_ORCH_NEEDS_PREP_DIR", "out/results/prep_results") in train.env
    assert (train.needs, train.needs_outside) == (("prep",), ("elsewhere",))


def test_parallel_options_and_cpus_capped_at_the_machine() -> None:
    planned = plan(
        JobSpec(id="big", command=("b",), cpus=16),
        parallel=True,
        fail_fast=True,
        gates="report",
        retries=3,
        timeout=9.0,
    )
    (big,) = planned.jobs
    assert (planned.max_workers, planned.cpus, planned.fail_fast, planned.enforce_gates) == (
        4,
        4,
        True,
        False,
    )
    assert (big.cpus, big.retries, big.timeout) == (4, 3, 9.0)
    assert ("OMP_NUM_THREADS", "4") in big.env


def test_a_spec_with_an_error_is_planned_not_runnable() -> None:
    (job,) = plan(JobSpec(id="bad", command=("x",), error="no such script")).jobs
    assert job.not_runnable == "no such script"


# --------------------------------------------------------------------------- select
SPECS = (
    JobSpec(id="prep", tags=("data",)),
    JobSpec(id="train_rf", needs=("prep",), tags=("model", "fast")),
    JobSpec(id="train_gbm", needs=("prep",), tags=("model",)),
    JobSpec(id="report", needs=("train_rf", "train_gbm")),
    JobSpec(id="off", enabled=False),
)


def ids(only: list[str], exclude: list[str] = [], **kw: bool) -> list[str]:  # noqa: B006
    return [spec.id for spec in select(SPECS, only, exclude, **kw)]


@pytest.mark.parametrize(
    ("only", "exclude", "expected"),
    [
        ([], [], ["prep", "train_rf", "train_gbm", "report"]),  # disabled left out
        (["off"], [], ["off"]),  # unless named
        (["train_rf"], [], ["prep", "train_rf"]),  # what it needs comes along
        (["report"], [], ["prep", "train_rf", "train_gbm", "report"]),  # transitively
        (["train_*"], [], ["prep", "train_rf", "train_gbm"]),
        (["tag:model"], ["train_gbm"], ["prep", "train_rf"]),
        (["tag:fast,tag:data"], [], ["prep", "train_rf"]),
        (["train_gbm", "prep"], [], ["prep", "train_gbm"]),  # in spec order, once each
    ],
)
def test_select(only: list[str], exclude: list[str], expected: list[str]) -> None:
    assert ids(only, exclude) == expected


def test_no_deps_takes_only_what_was_named() -> None:
    assert ids(["report"], no_deps=True) == ["report"]


def test_excluding_what_a_selected_job_needs_is_an_error_naming_no_deps() -> None:
    with pytest.raises(ConfigError, match="'prep' is excluded; add --no-deps"):
        ids(["train_rf"], ["prep"])
    assert ids(["train_rf"], ["prep"], no_deps=True) == ["train_rf"]


def test_a_selector_matching_nothing_is_an_error() -> None:
    with pytest.raises(SelectionError):
        ids(["nothing_*"])
