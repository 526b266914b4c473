"""What a job asks of a Ray node, and why no node of a cluster can give it.

Ray leaves a task no node can run pending forever (it only logs a warning on the
driver), so the orchestrator checks each job against the nodes alive when the run starts,
and again while an attempt waits to be placed (a node lost mid-run may have been the only
one with a `big_node` resource). Pure: the nodes are given as their resource mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.models import PlannedJob
from orchestrator.usage import format_bytes

#: The job key that asks for each of Ray's own resources.
KEYS = {"CPU": "cpus", "GPU": "gpus", "memory": "memory"}


def needs(job: PlannedJob) -> dict[str, float]:
    """The job's request in Ray's resource names (what a node's `Resources` lists)."""
    asked = {
        "CPU": float(job.cpus),
        "GPU": job.gpus,
        "memory": float(job.memory or 0),
        **dict(job.resources),
    }
    return {name: amount for name, amount in asked.items() if amount > 0}


def task_options(job: PlannedJob) -> dict[str, object]:
    """The job's request as `ray.remote(...).options(...)` takes it."""
    options: dict[str, object] = {"num_cpus": job.cpus, "num_gpus": job.gpus}
    if job.memory:  # bytes; Ray places by it and enforces nothing (memory_limit does)
        options["memory"] = job.memory
    if job.resources:
        options["resources"] = dict(job.resources)
    return options


def invalid_request(job: PlannedJob) -> str | None:
    """Why Ray would refuse the job's request outright (the config allows any amount of
    GPUs, as the local backend may)."""
    if job.gpus > 1 and not job.gpus.is_integer():
        return f"job {job.id}: gpus {job.gpus:g}: Ray takes a fraction of one GPU or whole GPUs"
    return None


def unplaceable(
    job_id: str, asked: Mapping[str, float], nodes: Sequence[Mapping[str, float]]
) -> str | None:
    """Why no node among `nodes` (each its total resources) can run a task asking `asked`;
    None when one can."""
    if any(_fits(asked, node) for node in nodes):
        return None
    count = f"{len(nodes)} node{'s' * (len(nodes) != 1)}"
    for name, amount in asked.items():
        most = max((node.get(name, 0.0) for node in nodes), default=0.0)
        if most < amount:
            return (
                f"job {job_id}: needs {_amount(name, amount)}, but no Ray node has that "
                f"(the most on one of {count}: {_amount(name, most)})"
            )
    together = ", ".join(_amount(name, amount) for name, amount in asked.items())
    return f"job {job_id}: needs {together} on one node, but none of {count} has them together"


def _fits(asked: Mapping[str, float], node: Mapping[str, float]) -> bool:
    return all(node.get(name, 0.0) >= amount for name, amount in asked.items())


def _amount(name: str, amount: float) -> str:
    """An amount as the job's config writes it: `cpus 2`, `memory 4.0 GiB`, `big_node 1`."""
    if name == "memory":
        return f"memory {format_bytes(int(amount))}"
    return f"{KEYS.get(name, name)} {amount:g}"
