"""What `decide` is told of the disk, read in-process from a tmp dir (issue 18, point 5):
fingerprints, output manifests and the cache file, each compared as a value."""

from __future__ import annotations

import math
import os
from pathlib import Path

from orchestrator.decide.cache import CacheEntry, cache_text, load_cache
from orchestrator.decide.fingerprints import changed_part, fingerprints
from orchestrator.decide.history import read_history
from orchestrator.decide.manifests import (
    HASH_BUDGET,
    UNHASHED,
    damage,
    file_digest,
    manifest,
)
from orchestrator.models import JobSpec, Plan, RunOptions
from orchestrator.plan import build_plan


def two_jobs(root: Path) -> Plan:
    """`b` needs `a`; both scripts exist under `root`."""
    for job in ("a", "b"):
        (root / f"train_{job}.py").write_text(f"print('{job}')\n")
    specs = (
        JobSpec(id="a", script="train_a.py", flags=("--output-dir",)),
        JobSpec(id="b", script="train_b.py", flags=("--output-dir",), needs=("a",)),
    )
    return build_plan(specs, RunOptions(), python="py", cpu_count=2, inherited_env={})


def test_an_edited_script_changes_its_part_and_what_needs_it(tmp_path: Path) -> None:
    plan = two_jobs(tmp_path)
    before = fingerprints(plan, tmp_path, {})
    assert before["a"]["script"] == file_digest(tmp_path / "train_a.py")
    (tmp_path / "train_a.py").write_text("print('a, edited')\n")
    after = fingerprints(plan, tmp_path, {})
    assert (changed_part(after["a"], before["a"]), changed_part(after["b"], before["b"])) == (
        "script",
        "upstream:a",
    )


def test_an_output_dir_is_compared_file_by_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.pkl").write_bytes(b"weights")
    (out / "metrics.json").write_text("{}")
    (out / "latest").symlink_to("/dev/zero")
    os.mkfifo(out / "pipe")
    recorded = manifest(out)
    assert sorted(recorded) == ["latest", "metrics.json", "model.pkl"]  # no FIFO
    assert recorded["latest"] == (0, 0, "symlink:/dev/zero")  # never followed
    assert damage(out, recorded) is None
    os.utime(out / "model.pkl", ns=(1, 1))
    assert damage(out, recorded) is None  # a new mtime, the same content
    (out / "model.pkl").write_bytes(b"WEIGHTS")
    assert damage(out, recorded) == "model.pkl modified"
    (out / "metrics.json").unlink()
    assert damage(out, recorded) == "metrics.json missing"


def test_files_past_the_hash_budget_are_known_by_size_and_mtime(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    for name in ("a.bin", "b.bin", "sub/c.bin"):
        (out / name).write_bytes(b"12345678")
    recorded = manifest(out, budget=16)
    assert [recorded[name][2] for name in ("a.bin", "b.bin", "sub/c.bin")] == [
        file_digest(out / "a.bin"),
        file_digest(out / "b.bin"),
        UNHASHED,
    ]
    os.utime(out / "a.bin", ns=(1, 1))
    assert damage(out, recorded) is None  # hashed: a new mtime, the same content
    os.utime(out / "sub/c.bin", ns=(1, 1))
    assert damage(out, recorded) == "sub/c.bin modified"  # unhashed: a new mtime is a change


def test_a_checkpoint_past_the_budget_is_never_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with (out / "model.ckpt").open("wb") as handle:
        handle.truncate(HASH_BUDGET + 1)  # sparse: no bytes written, nothing read
    info = (out / "model.ckpt").stat()
    assert manifest(out) == {"model.ckpt": (HASH_BUDGET + 1, info.st_mtime_ns, UNHASHED)}
    assert damage(out, manifest(out)) is None


def test_an_output_dir_is_read_only_where_the_cache_could_be_used(tmp_path: Path) -> None:
    plan = two_jobs(tmp_path)
    prints = fingerprints(plan, tmp_path, {})
    gone = {"model.pkl": (1, 1, "h")}  # neither job's output dir exists
    cache = {
        "a": CacheEntry("R1", prints["a"], gone, {}),
        "b": CacheEntry("R1", {**prints["b"], "script": "older"}, gone, {}),
    }
    history = read_history(plan, tmp_path, cache, previous=None)
    assert history.output_damage == {"a": "model.pkl missing"}  # b runs anyway
    assert (history.fingerprints, history.outputs_gone) == (prints, frozenset())


def test_the_cache_file_reads_back_what_was_written(tmp_path: Path) -> None:
    entry = CacheEntry(
        "R1", {"script": "s"}, {"m.pkl": (3, 5, "h")}, {"loss": math.inf, "acc": 0.5}, 1.5
    )
    path = tmp_path / "cache.json"
    path.write_text(cache_text({"a": entry}))
    assert '"loss": "Infinity"' in path.read_text()
    assert load_cache(path) == ({"a": entry}, [])
