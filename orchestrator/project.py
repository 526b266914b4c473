"""Where the project is: its root, found from any directory inside it, as git and pytest do.

Discovery roots, `configs/` and the default output root belong to the project, so they
are read from its root; a path the user typed belongs to the directory they typed it in.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.discovery import DEFAULT_ROOTS
from orchestrator.frozen_dataclass import frozen_dataclass

#: What marks a project's root: its job definitions, its packaging, its repository. The
#: nearest directory holding any of them wins, so a sub-project is its own root.
MARKERS = ("configs/", "pyproject.toml", ".git")


@frozen_dataclass
class Project:
    root: Path
    #: The directory the command was started in, which typed paths are relative to.
    here: Path
    #: What made `root` the root; None when nothing did, and the root is `here`.
    marker: str | None = None

    def typed(self, path: str) -> str:
        """A path typed in `here`, as the pipeline reads paths: relative to the root.

        Inside the root it stays relative (`sub/out`), so plans and messages read as they
        do when started from the root; outside it, it becomes absolute.
        """
        if self.here == self.root or Path(path).is_absolute():
            return path
        full = Path(os.path.normpath(self.here / path))
        return (
            full.relative_to(self.root).as_posix() if full.is_relative_to(self.root) else str(full)
        )


def locate(here: Path) -> Project:
    """The nearest of `here` and its parents that holds a marker; `here` if none does.

    `here` also stays the root when it holds a discovery root (`training/`, ...): it then
    finds jobs as it always did, and a project without `configs/` inside a larger
    repository (an action's `working-directory`) is not traded for the repository's top.
    """
    own = (*MARKERS, *(f"{root}/" for root in DEFAULT_ROOTS))
    for folder, markers in ((here, own), *((parent, MARKERS) for parent in here.parents)):
        marker = next((m for m in markers if _holds(folder, m)), None)
        if marker is not None:
            return Project(folder, here, marker)
    return Project(here, here)


def _holds(folder: Path, marker: str) -> bool:
    if marker.endswith("/"):
        return (folder / marker).is_dir()
    return (folder / marker).exists()  # `.git` is a file in a worktree or a submodule
