"""What the machine lends running jobs (memory, GPU devices), and the checks at plan time.

Pure: the host is read by `execute/devices.py` and passed in as a `Pool`, so a plan is
still a value of its inputs. A job that can never fit is refused here, before anything
runs, rather than waiting forever in the ready queue.
"""

from __future__ import annotations

from orchestrator.errors import ConfigError
from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.jobs import set_at
from orchestrator.models import JobSpec
from orchestrator.usage import format_bytes

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


def memory_from_available(available: int) -> Pool:
    """The default --memory: what the kernel says is available now, less a margin."""
    margin = max(int(available * MARGIN_FRACTION), MARGIN_FLOOR)
    source = f"MemAvailable {format_bytes(available)} at start less {format_bytes(margin)}"
    return Pool(memory=max(0, available - margin), memory_source=source)


def given_memory(amount: int) -> Pool:
    return Pool(memory=amount, memory_source="--memory")


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
