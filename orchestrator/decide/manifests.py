"""What a successful job left in its output dir, and whether it is still there as it was.

A job's output dir is untrusted: a symlink is recorded by where it points, never followed
(it may lead to /dev/zero, or out of the root), and a FIFO, socket or device is left out,
since reading one may never end. The manifest is taken on the scheduler's thread as a job
ends, so only its first `HASH_BUDGET` bytes are hashed: a 20 GB checkpoint (or a sparse
file claiming a terabyte) would otherwise stall every other job's timeout and the run's
Ctrl-C for as long as reading it takes. A file past the budget is known by its size and
mtime, as make knows files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

#: A file as recorded: size, mtime (ns) and content hash, or `symlink:<target>` for a link.
FileRecord = tuple[int, int, str]
Manifest = Mapping[str, FileRecord]

#: Bytes of one output dir hashed when its job succeeds (~0.1 s of SHA-256 on one core).
HASH_BUDGET = 64 << 20
#: The digest of a file recorded past the budget: any new mtime counts as a change.
UNHASHED = "unhashed"


def manifest(output_dir: Path, budget: int = HASH_BUDGET) -> dict[str, FileRecord]:
    """Every file under `output_dir`, by its path relative to it; files are hashed while
    they fit in what is left of `budget` bytes, the rest recorded `UNHASHED`."""
    files: dict[str, FileRecord] = {}
    for root, dirs, names in os.walk(output_dir):
        dirs.sort()  # the same files hashed each time, whatever order the disk lists them
        for name in sorted(names):
            path = Path(root, name)
            record = file_record(path, budget)
            if record is not None:
                files[path.relative_to(output_dir).as_posix()] = record
                budget -= record[0] if record[2] != UNHASHED else 0
    return files


def file_record(path: Path, budget: int | None = None) -> FileRecord | None:
    """The file's record; None for what is not a regular file or a symlink, or is gone.
    A file larger than `budget` bytes (when given) is recorded unread, `UNHASHED`."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return (0, 0, f"symlink:{path.readlink()}")
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if budget is not None and info.st_size > budget:
        return (info.st_size, info.st_mtime_ns, UNHASHED)
    return (info.st_size, info.st_mtime_ns, file_digest(path))


def damage(output_dir: Path, recorded: Manifest) -> str | None:
    """The first recorded file that is gone or differs; one with its recorded mtime is
    trusted unread, so an unchanged output dir costs a stat per file, not a hash."""
    for rel, (size, mtime_ns, digest) in sorted(recorded.items()):
        path = output_dir / rel
        try:
            info = path.lstat()
        except OSError:
            return f"{rel} missing"
        if stat.S_ISLNK(info.st_mode) or digest.startswith("symlink:"):
            if file_record(path) != (size, mtime_ns, digest):
                return f"{rel} modified"
            continue
        if info.st_size != size:
            return f"{rel} modified"
        if info.st_mtime_ns != mtime_ns and (
            digest == UNHASHED or file_record(path) != (size, info.st_mtime_ns, digest)
        ):
            return f"{rel} modified"
    return None


def file_digest(path: Path) -> str:
    """The content's hash; a path that is not a regular file (a FIFO, a device) has none."""
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "not a file"
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return "missing"
    return digest.hexdigest()
