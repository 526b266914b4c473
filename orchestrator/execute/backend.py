"""Where attempts run: the interface the scheduler drives, and this machine's backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from orchestrator.execute.ending import ProcessEnd
from orchestrator.execute.supervisor import Supervisor
from orchestrator.models import PlannedJob
from orchestrator.plan import JOB_ID_VAR
from orchestrator.usage import UsageSoFar


class Backend(Protocol):
    """Where attempts run: this machine (LocalBackend) or a Ray cluster (ray_backend.py).

    `start` returns at once; `wait` hands back the attempts that ended, by job id: at
    least one, unless `wake` was called (from a signal handler) or the timeout passed.
    `usage_so_far`: what the running attempts use now, by job id, those it can tell.
    """

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None: ...
    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]: ...
    def wake(self) -> None: ...
    def stop(self, key: str) -> None: ...
    def cancel_all(self) -> None: ...
    def kill_all(self) -> None: ...
    def close(self) -> None: ...
    def usage_so_far(self) -> Mapping[str, UsageSoFar]: ...


class LocalBackend:
    """Each attempt a child process group of this process, all watched from this thread."""

    def __init__(self, output_root: str) -> None:
        self.supervisor = Supervisor(orphans_tagged_by=JOB_ID_VAR)
        self.output_root = output_root

    def start(self, job: PlannedJob, header: str, *, fresh_log: bool) -> None:
        self.supervisor.start(
            job.id,
            job.argv,
            cwd=job.cwd,
            env=dict(job.env),
            log_path=job.log_path,
            header=header,
            timeout=job.timeout,
            grace=job.grace,
            fresh_log=fresh_log,
            root=self.output_root,
            memory_limit=job.memory_limit,
        )

    def wait(self, timeout: float | None) -> list[tuple[str, ProcessEnd]]:
        return self.supervisor.wait(timeout)

    def wake(self) -> None:
        self.supervisor.wake()

    def stop(self, key: str) -> None:
        self.supervisor.stop(key)

    def cancel_all(self) -> None:
        self.supervisor.cancel_all()

    def kill_all(self) -> None:
        self.supervisor.kill_all()

    def close(self) -> None:
        self.supervisor.close()

    def usage_so_far(self) -> Mapping[str, UsageSoFar]:
        return self.supervisor.usage_so_far()
