"""What this machine can lend running jobs (memory, GPU devices), read once when a run
is planned.

The plan itself stays pure (`orchestrator.resources`); this is the part that asks the
host, called by the pipeline only for plans that run here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from orchestrator.resources import CUDA_VISIBLE_DEVICES, visible_devices

MEMINFO = Path("/proc/meminfo")


def available_memory(meminfo: Path = MEMINFO) -> int | None:
    """Bytes the kernel could hand out now without swapping (`MemAvailable`), else the
    physical memory (off Linux), else None."""
    try:
        for line in meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == "MemAvailable":
                return int(rest.split()[0]) * 1024  # the kernel writes kB and means KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def local_gpus(
    given: tuple[str, ...] | None, environ: Mapping[str, str]
) -> tuple[tuple[str, ...], str]:
    """The GPU devices jobs here may hold, and where they came from: `--gpus`, else the
    orchestrator's own CUDA_VISIBLE_DEVICES (it may use only those), else `nvidia-smi -L`.

    Asked only when a job wants a GPU: detection starts a process, which `--list` and
    `--dry-run` of CPU-only jobs should not pay for.
    """
    if given is not None:
        return given, "--gpus" if given else "--gpus none"
    if CUDA_VISIBLE_DEVICES in environ:
        value = environ[CUDA_VISIBLE_DEVICES]
        devices = visible_devices(value)
        return devices, CUDA_VISIBLE_DEVICES if devices else f"{CUDA_VISIBLE_DEVICES}={value!r}"
    return detected_gpus()


#: `GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)`; MIG lines under it are indented.
_LISTED = re.compile(r"^GPU (\d+):", re.MULTILINE)
LIST_TIMEOUT = 10.0


def detected_gpus() -> tuple[tuple[str, ...], str]:
    program = shutil.which("nvidia-smi")
    if program is None:
        return (), "nvidia-smi -L: not on PATH"
    try:
        done = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=LIST_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return (), f"nvidia-smi -L: no answer in {LIST_TIMEOUT:g}s"
    except OSError as exc:
        return (), f"nvidia-smi -L: {exc.strerror}"
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        return (), f"nvidia-smi -L: exit {done.returncode}" + (f", {said[0]}" if said else "")
    listed = tuple(_LISTED.findall(done.stdout))
    return listed, "nvidia-smi -L" if listed else "nvidia-smi -L listed none"
