"""What a job asks of a Ray node, and why no node can give it: values, no Ray."""

from __future__ import annotations

import pytest

from orchestrator.execute.ray_placement import invalid_request, needs, task_options, unplaceable
from orchestrator.models import JobSpec, PlannedJob, RunOptions
from orchestrator.plan import build_plan

GiB = 1 << 30


def job(**fields: object) -> PlannedJob:
    """The job a config with `fields` plans: the keys reach Ray through the plan."""
    spec = JobSpec(id="train", command=("true",), **fields)  # type: ignore[arg-type]
    (planned,) = build_plan([spec], RunOptions(), python="py", cpu_count=4, inherited_env={}).jobs
    return planned


def test_needs_are_rays_names_for_the_jobs_keys_and_leave_out_nothing_asked() -> None:
    asked = job(cpus=2, gpus=0.5, memory=GiB, resources=(("big_node", 1.0), ("zero", 0.0)))
    assert needs(asked) == {"CPU": 2.0, "GPU": 0.5, "memory": float(GiB), "big_node": 1.0}
    assert needs(job()) == {"CPU": 1.0}
    assert task_options(asked) == {
        "num_cpus": 2,
        "num_gpus": 0.5,
        "memory": GiB,
        "resources": {"big_node": 1.0, "zero": 0.0},
    }
    assert task_options(job()) == {"num_cpus": 1, "num_gpus": 0.0}


HEAD = {"CPU": 0.0, "memory": 0.25 * GiB}
BIG = {"CPU": 2.0, "big_node": 1.0, "memory": 4.0 * GiB}
SMALL = {"CPU": 1.0, "small_node": 1.0, "memory": 0.5 * GiB}


@pytest.mark.parametrize(
    ("asked", "nodes", "why"),
    [
        ({"CPU": 2.0, "big_node": 1.0}, [HEAD, BIG, SMALL], None),
        ({"CPU": 1.0, "small_node": 0.5}, [HEAD, BIG, SMALL], None),
        (
            {"CPU": 1.0, "GPU": 0.5},
            [HEAD, BIG, SMALL],
            "job j: needs gpus 0.5, but no Ray node has that (the most on one of 3 nodes: gpus 0)",
        ),
        (
            {"CPU": 3.0},
            [BIG, SMALL],
            "job j: needs cpus 3, but no Ray node has that (the most on one of 2 nodes: cpus 2)",
        ),
        (
            {"CPU": 1.0, "memory": 8.0 * GiB},
            [HEAD, BIG, SMALL],
            "job j: needs memory 8.0 GiB, but no Ray node has that "
            "(the most on one of 3 nodes: memory 4.0 GiB)",
        ),
        (
            {"CPU": 2.0, "small_node": 1.0},
            [HEAD, BIG, SMALL],
            "job j: needs cpus 2, small_node 1 on one node, but none of 3 nodes has them together",
        ),
        # A cluster that is only its head node, and one with no node alive at all.
        (
            {"CPU": 1.0, "big_node": 1.0},
            [{"CPU": 4.0}],
            "job j: needs big_node 1, but no Ray node has that (the most on one of 1 node: "
            "big_node 0)",
        ),
        (
            {"CPU": 1.0},
            [],
            "job j: needs cpus 1, but no Ray node has that (the most on one of 0 nodes: cpus 0)",
        ),
    ],
)
def test_unplaceable_names_the_job_and_the_resource_no_node_has(
    asked: dict[str, float], nodes: list[dict[str, float]], why: str | None
) -> None:
    assert unplaceable("j", asked, nodes) == why


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"gpus": 0.5}, None),
        ({"gpus": 2.0}, None),
        ({"gpus": 1.5}, "job train: gpus 1.5: Ray takes a fraction of one GPU or whole GPUs"),
    ],
)
def test_invalid_request_is_what_ray_would_refuse(fields: dict[str, object], why: str) -> None:
    assert invalid_request(job(**fields)) == why
