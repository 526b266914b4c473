"""Starting processes: a job's leader, in a session of its own with its output in its log,
and the helpers that are not jobs (the watchdog)."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.execute.procfs import HELPERS

if TYPE_CHECKING:
    import resource


class Helper:
    """A process of ours that is not a job (the watchdog), reading what we write to `fd`.

    Its own session, so a terminal's Ctrl-C or hang-up does not reach it; its cwd is /,
    so it holds no project dir; only stdin, stdout and stderr are passed to it (stdout
    goes nowhere, stderr stays ours, for its one line should it have to act).
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self._popen = subprocess.Popen(
            list(argv),
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self._popen.stdin is not None
        self.pid = self._popen.pid
        self.fd = self._popen.stdin.fileno()
        os.set_blocking(self.fd, False)  # a stuck helper must never stall the run
        HELPERS.add(self.pid)

    def finish(self, timeout: float) -> None:
        """Close its input, wait for it to exit; SIGKILL it after `timeout` seconds."""
        assert self._popen.stdin is not None
        with contextlib.suppress(OSError):
            self._popen.stdin.close()
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()
        HELPERS.discard(self.pid)

    def hand_over(self) -> None:
        """Close its input and leave it running: it has work to finish on its own. A
        thread reaps it when it is done, should we still be there."""
        assert self._popen.stdin is not None
        with contextlib.suppress(OSError):
            self._popen.stdin.close()
        threading.Thread(target=self._popen.wait, name="helper-reaper", daemon=True).start()


class Spawned:
    """A started child: its pid, and how to reap it (the Popen object owns its status)."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self._popen = popen
        #: What it used, its reaped descendants included, once reaped (see `wait`).
        self.rusage: resource.struct_rusage | None = None

    def wait(self) -> int:
        """Reap the child: its exit code, or -N when signal N killed it. Reaped with
        wait4, for its rusage: what it and the descendants it reaped used."""
        _, status, self.rusage = os.wait4(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if self._popen is not None:
            self._popen.returncode = code  # reaped here: Popen must not wait for it again
        return code


def default_sigchld() -> Any:
    """Set SIGCHLD back to its default if it was ignored; return what it was, if changed.

    A parent can start us with SIGCHLD ignored, and that survives exec. Then the kernel
    reaps our children itself: their exit status is lost, and so is the zombie that keeps
    a job's process group id ours until we have killed what is left in the group.
    """
    try:
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            return signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    except (ValueError, AttributeError):  # not the main thread; no SIGCHLD (Windows)
        pass
    return None


def spawn(argv: Sequence[str], cwd: str, env: Mapping[str, str], log: int) -> Spawned:
    """Start `argv` in a new session, stdin from /dev/null, stdout and stderr into `log`.

    posix_spawn where it can do all Popen would: a local job runs in our own directory,
    its executable is found, and we could hide our inherited descriptors. It costs the
    parent a fraction of Popen's CPU (README, "Spawning"), and on a machine whose cores
    the jobs keep busy, that is time taken from the jobs. Popen starts the rest (a Ray
    worker's job directory, a command not on the PATH, no /proc, no POSIX_SPAWN_SETSID),
    and any job that posix_spawn could not start, so every failure reads the way Popen
    words it and Popen's search of the PATH (the next candidate when one cannot be run)
    still holds.
    Two differences are made up for: the signals Python ignores go back to their defaults,
    and the descriptors we inherited are made non-inheritable (see `no_inherited_fds`),
    since posix_spawn does not close them. Everything Python opens is non-inheritable
    already (PEP 446). One difference remains: glibc leaves its two internal signals (32
    and 33) ignored in the child, which only other C libraries could notice.
    """
    path: str | None = argv[0]
    if "/" not in argv[0]:  # as Popen looks for it: on the PATH the child will have
        path = shutil.which(argv[0], path=os.pathsep.join(os.get_exec_path(env)))
    if cwd in (".", "") and path is not None and DIRECT_SPAWN and no_inherited_fds():
        try:
            pid = os.posix_spawn(
                path,
                list(argv),
                env,
                file_actions=[
                    # stdout and stderr first: the log may itself be descriptor 0
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                ],
                setsigdef=_IGNORED_BY_PYTHON,
                setsid=True,
            )
        except (OSError, NotImplementedError):  # Popen tries again, and words the failure
            pass
        else:
            return Spawned(pid)
    popen = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Spawned(popen.pid, popen)


DIRECT_SPAWN = sys.platform.startswith("linux") and hasattr(os, "posix_spawn")
#: Python ignores these, and ignored signals stay ignored across exec; Popen resets them.
_IGNORED_BY_PYTHON = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)


#: Where this process's open descriptors are listed (Linux).
_FD_DIR = Path("/proc/self/fd")


@functools.cache
def no_inherited_fds() -> bool:
    """Make the descriptors this process inherited non-inheritable, as Popen's close_fds
    keeps them from jobs: a pipe end held open by a job can keep whoever started us from
    ever seeing end-of-file. Once per process; False where /proc cannot list them."""
    try:
        names = [entry.name for entry in _FD_DIR.iterdir()]
    except OSError:
        return False
    for fd in map(int, names):
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, now closed
                os.set_inheritable(fd, False)
    return True
