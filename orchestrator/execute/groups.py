"""Who is told of job process groups as they start and end: the watchdog's link."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class GroupListener(Protocol):
    """Told of each job's process group as it starts and ends (the watchdog's link)."""

    def started(self, key: str, pgid: int, grace: float, cgroup: str | None) -> None: ...
    def adopted(self, pgid: int, grace: float) -> None: ...
    def ended(self, pgid: int) -> None: ...


#: Who is told of groups starting and ending: one per process, like the subreaper role.
_listener: GroupListener | None = None


@contextlib.contextmanager
def groups_told_to(listener: GroupListener) -> Iterator[None]:
    """Tell `listener` of every job group started and ended in this process for the block."""
    global _listener  # noqa: PLW0603 -- one watchdog per process, set by the run around it
    _listener = listener
    try:
        yield
    finally:
        _listener = None


def listener() -> GroupListener | None:
    """The listener told of groups in this process now, if any."""
    return _listener
