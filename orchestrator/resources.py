"""What the machine lends running jobs (memory, GPU devices), and the checks at plan time.

Pure: the host is read by `execute/devices.py` and passed in as a `Pool`, so a plan is
still a value of its inputs. A job that can never fit is refused here, before anything
runs, rather than waiting forever in the ready queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.jobs import set_at
from orchestrator.models import AUTO, JobSpec, Plan, PlannedJob, RunOptions
from orchestrator.usage import format_bytes

if TYPE_CHECKING:  # annotations only: --list does not load run_summary/
    from orchestrator.run_summary.measured import Measured

MIB = 1 << 20
#: Kept back from MemAvailable when --memory is not given: the orchestrator, the page
#: cache a job's reads need, and whatever else starts on the machine meanwhile.
MARGIN_FRACTION = 0.10
MARGIN_FLOOR = 256 * MIB


@frozen_dataclass
class Pool:
    """What running jobs share besides cpus; built once per run by the caller."""

    #: Bytes shared by the running jobs' `memory:`; None: not counted here (Ray counts).
    memory: int | None = None
    #: Where `memory` came from, as --dry-run says it.
    memory_source: str = ""
    #: GPU devices lent to jobs, whole; None: not counted here (no job asks, or Ray).
    gpus: tuple[str, ...] | None = None
    #: Where they came from, or why there are none ("nvidia-smi -L: not on PATH").
    gpu_source: str = ""


def memory_from_available(available: int) -> Pool:
    """The default --memory: what the kernel says is available now, less a margin."""
    margin = max(int(available * MARGIN_FRACTION), MARGIN_FLOOR)
    source = f"MemAvailable {format_bytes(available)} at start less {format_bytes(margin)}"
    return Pool(memory=max(0, available - margin), memory_source=source)


def given_memory(amount: int) -> Pool:
    return Pool(memory=amount, memory_source="--memory")


#: The variable CUDA (and every framework on it) reads to know which devices it may use.
CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


def visible_devices(value: str) -> tuple[str, ...]:
    """The devices a CUDA_VISIBLE_DEVICES value lists: indices, `GPU-…` UUIDs or `MIG-…`.

    CUDA stops at the first entry it cannot use and sees nothing after it (`0,-1,1` is
    device 0 only), so the list stops there too; repeats count once.
    """
    devices: list[str] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        if entry not in devices:
            devices.append(entry)
    return tuple(devices)


def check_gpus(spec: JobSpec, pool: Pool) -> None:
    """Refuse, before anything runs, a `gpus:` this machine cannot give: a fraction of a
    device, or more devices than it has (none at all, say)."""
    if pool.gpus is None or spec.gpus == 0:
        return
    path, line, key = set_at(spec, "gpus")
    if not float(spec.gpus).is_integer():
        raise ConfigError(
            path,
            f"{spec.gpus:g} of a GPU: this machine lends whole devices",
            line=line,
            key=key,
            hint=f"ask for {math.ceil(spec.gpus)}, or run on Ray (--backend ray) to share one",
        )
    if spec.gpus > len(pool.gpus):
        have = (
            f"only {len(pool.gpus)} here ({pool.gpu_source}: {','.join(pool.gpus)})"
            if pool.gpus
            else f"no GPU here ({pool.gpu_source})"
        )
        raise ConfigError(
            path,
            f"{spec.id} needs {spec.gpus:g} GPU{'s' if spec.gpus > 1 else ''}, {have}",
            line=line,
            key=key,
            hint="name the devices with --gpus 0,1 or CUDA_VISIBLE_DEVICES",
        )


def check_memory_fits(spec: JobSpec, memory: int | None, pool: Pool) -> None:
    """Refuse a job whose `memory:` is more than all the memory running jobs share: it
    would wait for room that never comes."""
    if memory is None or pool.memory is None or memory <= pool.memory:
        return
    path, line, key = set_at(spec, "memory")
    raise ConfigError(
        path,
        f"{spec.id} needs {format_bytes(memory)}, more than the {format_bytes(pool.memory)} "
        f"jobs may share ({pool.memory_source})",
        line=line,
        key=key,
        hint="lower it, or raise --memory",
    )


def resource_warnings(specs: Sequence[JobSpec], options: RunOptions) -> Iterator[str]:
    """What is allowed but surely not meant: a job that reserves more memory than it may
    use (its `memory:` above its limit, memory the others wait for and it never fills),
    and --memory or --gpus on Ray, which count nothing there (the cluster's own do)."""
    for spec in specs:
        own = spec.memory_limit is not None
        limit = spec.memory_limit if own else options.memory_limit
        if not isinstance(spec.memory, int) or limit is None or spec.memory <= limit:
            continue
        path, line, key = set_at(spec, "memory")
        than = "its memory_limit" if own else "--memory-limit"
        yield ConfigError(
            path,
            f"{spec.id} reserves {format_bytes(spec.memory)}, more than {than} "
            f"{format_bytes(limit)} lets it use",
            line=line,
            key=key,
            hint="other jobs wait for memory it never fills: lower memory: to the limit",
        ).render()
    for flag, value, key in (
        ("--memory", options.memory, "memory: is its Ray memory request"),
        ("--gpus", options.gpus, "gpus: is its Ray num_gpus"),
    ):
        if value is not None and options.backend == "ray":
            yield f"{flag} is ignored with --backend ray: Ray's nodes count (a job's {key})"


def held(job: PlannedJob) -> list[str]:
    """What a job holds while it runs, beyond one cpu: `cpus 2`, `memory 700 MiB`, `gpus 1`."""
    notes = [f"cpus {job.cpus}"] if job.cpus > 1 else []
    notes += [f"memory {format_bytes(job.memory)}"] if job.memory else []
    notes += [f"gpus {job.gpus:g}"] if job.gpus else []
    return notes


def shared(plan: Plan) -> str | None:
    """What running jobs share, and where it came from; None when no job holds memory or a
    GPU (cpus alone are in the plan's last line already)."""
    if not any(job.memory or job.gpus for job in plan.jobs):
        return None
    parts = [f"{plan.cpus} cpus"]
    if plan.memory is not None:
        parts.append(f"memory {format_bytes(plan.memory)} ({plan.memory_source})")
    if plan.gpu_devices is not None:
        devices = ",".join(plan.gpu_devices) or "none"
        parts.append(f"GPUs {devices} ({plan.gpu_source})")
    return "shared by running jobs: " + " · ".join(parts)


#: `memory: auto` holds its last peak times this, and never less than the floor: a run
#: varies (data, batch order, allocator timing), and a job rarely peaks at the same byte.
AUTO_MEMORY_FACTOR = 1.2
AUTO_MEMORY_FLOOR = 64 * MIB


@frozen_dataclass
class Needs:
    """What a job holds while it runs, `auto` resolved, and where each learned one came from."""

    cpus: int
    memory: int | None
    learned: tuple[tuple[str, str], ...] = ()


def needs(spec: JobSpec, measured: Measured | None, total_cpus: int, pool: Pool) -> Needs:
    """The job's cpus and memory: as configured, or learned from its last measured success.

    With nothing measured yet, an `auto` need takes all there is (every cpu, the whole
    memory pool): the job's first run then runs alone, so it is measured undisturbed and
    cannot take the machine down with others; the next run packs it by what it used.
    """
    learned: list[tuple[str, str]] = []
    if isinstance(spec.cpus, int):
        cpus = spec.cpus
    else:
        cpus, why = _auto_cpus(measured, total_cpus)
        learned.append(("cpus", why))
    if spec.memory != AUTO:
        memory = spec.memory if isinstance(spec.memory, int) else None
    else:
        memory, why = _auto_memory(measured, pool)
        learned.append(("memory", why))
    return Needs(min(cpus, total_cpus), memory, tuple(learned))


def _auto_cpus(measured: Measured | None, total: int) -> tuple[int, str]:
    percent = measured.mean_cpu_percent if measured else None
    if measured is None or percent is None:
        return total, f"auto: nothing measured yet, so all {total} cpus (its first run, alone)"
    cpus = max(1, math.ceil(round(percent) / 100))
    capped = f", capped at {total}" if cpus > total else ""
    return cpus, f"auto: {percent:g} % mean CPU in run {measured.run_id}{capped}"


def _auto_memory(measured: Measured | None, pool: Pool) -> tuple[int | None, str]:
    peak = measured.peak_memory_bytes if measured else None
    if measured is None or peak is None:
        if pool.memory is None:
            return None, "auto: nothing measured yet, so none asked for"
        return pool.memory, (
            f"auto: nothing measured yet, so all {format_bytes(pool.memory)} (its first run, alone)"
        )
    wanted = max(math.ceil(peak * AUTO_MEMORY_FACTOR), AUTO_MEMORY_FLOOR)
    extra = round((AUTO_MEMORY_FACTOR - 1) * 100)
    why = f"auto: {format_bytes(peak)} peak of run {measured.run_id} + {extra} %"
    if wanted == AUTO_MEMORY_FLOOR:
        why += f", at least {format_bytes(AUTO_MEMORY_FLOOR)}"
    if pool.memory is not None and wanted > pool.memory:
        # It ran in that much before: alone, it may again, where a fixed size would be an error.
        return pool.memory, f"{why}, capped at all {format_bytes(pool.memory)}"
    return wanted, why
