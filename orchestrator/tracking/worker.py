"""One thread that makes every MLflow call, in order, retrying with backoff.

The scheduling thread only queues work here, so a tracking server that is slow or down
costs the jobs nothing but the bounded waits the caller chooses. After a call has failed
every retry, tracking is given up for the rest of the run: one clear reason, instead of
a warning per job and minutes of retries each.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

#: Waits before each retry of a failed call: about 7 s in all before giving up.
BACKOFF = (0.5, 1.0, 2.0, 3.5)

Task = Callable[[], Any]


class Worker:
    def __init__(self, backoff: tuple[float, ...] = BACKOFF) -> None:
        self._backoff = backoff
        self._tasks: collections.deque[tuple[str, Task, Future[Any]]] = collections.deque()
        #: Calls a job's start waits for (its run's creation): before any queued logging.
        self._urgent: collections.deque[tuple[str, Task, Future[Any]]] = collections.deque()
        self._ready = threading.Condition()
        self._closing = False
        #: Why tracking stopped (the first call that failed every retry), or None.
        self.failure: str | None = None
        #: Calls the server refused for their content, one line each.
        self.notes: list[str] = []
        #: The last try's error, in one line: why a call the run is waiting for is late.
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlflow-tracking", daemon=True)
        self._thread.start()

    def submit(self, what: str, task: Task, *, urgent: bool = False) -> Future[Any]:
        """Queue `task`; its future holds the result, or None once tracking failed.
        An `urgent` task goes before the others queued: a job is waiting to start."""
        future: Future[Any] = Future()
        with self._ready:
            if self.failure is not None or self._closing:
                future.set_result(None)
                return future
            (self._urgent if urgent else self._tasks).append((what, task, future))
            self._ready.notify()
        return future

    def abandon(self, reason: str) -> None:
        """Give up now: the run will not wait for a server that does not answer. The call
        under way is left to its own timeout on this daemon thread; its result is dropped."""
        with self._ready:
            self._drop(reason)
        self._stop.set()

    def close(self, timeout: float) -> int:
        """Finish the queued calls within `timeout` seconds; the number left unsent."""
        with self._ready:
            self._closing = True
            self._ready.notify()
            if self.failure is not None:  # nothing queued; a hung call is not waited for
                return 0
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._stop.set()  # cuts a backoff short; a call under way still has to return
            with self._ready:
                left = len(self._tasks) + len(self._urgent) + 1
                self._drop(f"gave up after {timeout:.0f}s with {left} calls unsent")
            return left
        return 0

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._tasks and not self._urgent and not self._closing:
                    self._ready.wait()
                queue = self._urgent or self._tasks
                if not queue:
                    return
                what, task, future = queue.popleft()
            self._call(what, task, future)

    def _call(self, what: str, task: Task, future: Future[Any]) -> None:
        for wait in (*self._backoff, None):
            try:
                future.set_result(task())
                return
            except Rejected as refused:
                self.notes.append(f"{what}: {_reason(refused)}")
                future.set_result(None)
                return
            except Exception as error:  # the server's, the network's, MLflow's: all alike
                self.last_error = _reason(error)
                # A server silent for a whole request timeout is not tried again once the
                # run is over: each try would hold the end of the run that long again.
                hung = self._closing and self.last_error == "timed out"
                if wait is None or hung or self._stop.wait(wait):
                    with self._ready:
                        self._drop(f"{what}: {_reason(error)}")
                    future.set_result(None)
                    return

    def _drop(self, reason: str) -> None:
        """Give up: remember why, and resolve every queued call with None."""
        if self.failure is None:
            self.failure = reason
        for queue in (self._urgent, self._tasks):
            while queue:
                queue.popleft()[2].set_result(None)


#: What the network said, found in the long messages MLflow wraps around it.
_NETWORK = (
    "Connection refused",
    "Connection reset by peer",
    "timed out",
    "Name or service not known",
    "No route to host",
)


def _reason(error: Exception) -> str:
    """The error in one line: MLflow's messages can carry a whole HTML error page, or a
    URL and urllib3's retry summary around the two words that matter."""
    text = " ".join(str(error).split()) or type(error).__name__
    said = next((words for words in _NETWORK if words in text), None)
    if said:
        return said.lower()
    return text if len(text) <= 200 else text[:197] + "..."


class Rejected(Exception):
    """The server refused this one call's content (a param the script set otherwise):
    noted on the job, not retried, and tracking goes on."""


def wait_for(future: Future[Any], timeout: float) -> Any:
    """The future's result, or None if it is not there within `timeout` seconds."""
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return None
