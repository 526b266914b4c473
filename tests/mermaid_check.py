"""The real Mermaid for tests: charts parsed and compiled in node, drawn in Chromium.

A unit test that compares chart text with a string cannot tell whether GitHub draws it; this
asks the pinned mermaid package (tests/mermaid/package-lock.json) itself. Any test can check
a step summary with `assert_mermaid_ok(text)`. What it needs is installed on first use, on a
fresh machine too: `npm ci` when node_modules is missing or older than the lock file, and
Debian's chromium (for `render_charts`) with apt-get when running as root. Anything else
missing fails the test with what to do, and never skips it: a check that cannot fail is no
check at all.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

MERMAID_DIR = Path(__file__).resolve().parent / "mermaid"
LOCK_FILE = MERMAID_DIR / "package-lock.json"
#: Which lock file node_modules was installed from; npm ci rewrites node_modules whole.
STAMP = MERMAID_DIR / "node_modules" / ".installed-from-lock"
#: Debian's chromium here; elsewhere any Chromium or Chrome, e.g. GitHub's runners' Chrome.
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
#: A code fence: up to three spaces, three or more backticks or tildes, an info string.
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


@contextmanager
def _install_lock() -> Iterator[None]:
    """One installer at a time: pytest-xdist workers all start by asking for the tools."""
    with (MERMAID_DIR / ".install.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], what: str) -> None:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{what} needs `{argv[0]}`, which is not on PATH: install it", pytrace=False)
    result = subprocess.run(
        argv, cwd=MERMAID_DIR, capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode:
        pytest.fail(
            f"{what}: `{' '.join(argv)}` exited {result.returncode}:\n{result.stderr[-4000:]}",
            pytrace=False,
        )


def ensure_node_modules() -> None:
    """`npm ci` in tests/mermaid unless node_modules was installed from this lock file."""
    wanted = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    with _install_lock():
        if STAMP.is_file() and STAMP.read_text() == wanted:
            return
        _run(["npm", "ci", "--no-audit", "--no-fund"], "installing tests/mermaid")
        STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """Debian's chromium, installed with apt-get if missing and we are root; else fail."""
    if CHROMIUM.exists():
        return
    with _install_lock():
        if CHROMIUM.exists():
            return
        if os.geteuid() != 0:
            pytest.fail(
                f"rendering Mermaid needs Chromium at {CHROMIUM}: run "
                "`sudo apt-get install -y chromium` (the tests install it only as root)",
                pytrace=False,
            )
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, capture_output=True, check=False).returncode:
            # A fresh machine may have no package lists yet.
            _run(["apt-get", "update"], "updating apt's package lists")
            _run(install, "installing chromium")


class _Checker:
    """One node process running check.mjs, answering one chart per line."""

    def __init__(self) -> None:
        self.errors: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["node", "check.mjs"],
            cwd=MERMAID_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            encoding="utf-8",
        )

    def check(self, text: str) -> dict[str, Any]:
        # One chart at a time, so neither side ever waits on a full pipe.
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(text) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self.errors.seek(0)
            raise RuntimeError(
                f"check.mjs stopped (exit {self.process.wait(timeout=30)}): "
                f"{self.errors.read()[-4000:]}"
            )
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # it may have stopped already
            self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.errors.close()


_checker: _Checker | None = None


def _get_checker() -> _Checker:
    global _checker  # noqa: PLW0603 - one node process per test process, started on demand
    if _checker is None:
        ensure_node_modules()
        _checker = _Checker()
        atexit.register(_checker.close)
    return _checker


def check_charts(texts: Sequence[str]) -> list[dict[str, Any]]:
    """Each chart (the text inside a ```mermaid fence) parsed and compiled by mermaid.

    A result is `{"ok": False, "error": ...}`, or `{"ok": True, "type": ...}` plus, for a
    gantt, `title`, `dateFormat`, `axisFormat`, `todayMarker`, `sections` and `tasks`
    (`name`, `section`, `start`, `end` in epoch ms, `tags` such as "done" or "crit"), and
    for an xychart `title`, `xAxis` (labels), `yAxis` (title), `yRange` ([min, max]) and
    `plots` (`type`, `data`).
    """
    checker = _get_checker()
    return [checker.check(text) for text in texts]


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of each ```mermaid block, as a CommonMark renderer such as GitHub's sees it.

    Lines are split at every line break Python knows, more than CommonMark's three, so a
    stray break inside a chart shows up here as a broken chart rather than passing unseen.
    An unclosed block runs to the end of the document, as in CommonMark.
    """
    blocks: list[str] = []
    body: list[str] = []
    fence, is_mermaid = "", False
    for line in markdown.splitlines():
        match = FENCE.fullmatch(line)
        if not fence:
            if match:
                fence, is_mermaid, body = match[1], match[2].split()[:1] == ["mermaid"], []
        elif match and not match[2].strip() and match[1].startswith(fence):
            if is_mermaid:
                blocks.append("\n".join(body))
            fence = ""
        else:
            body.append(line)
    if fence and is_mermaid:
        blocks.append("\n".join(body))
    return blocks


def assert_mermaid_ok(markdown: str, *, count: int | None = None) -> list[dict[str, Any]]:
    """Every Mermaid block in the document parses and compiles (and there are `count`)."""
    blocks = mermaid_blocks(markdown)
    assert blocks, "no ```mermaid block in the document"
    if count is not None:
        assert len(blocks) == count, f"{len(blocks)} Mermaid blocks, expected {count}"
    results = check_charts(blocks)
    broken = [(r["error"], b) for r, b in zip(results, blocks, strict=True) if not r["ok"]]
    assert not broken, "Mermaid rejects:\n" + "\n\n".join(f"{e}\n{b}" for e, b in broken)
    return results


def render_charts(
    texts: Sequence[str], *, timezone: str = "UTC", pngs: Sequence[Path | None] = ()
) -> list[dict[str, Any]]:
    """Each chart drawn by mermaid in headless Chromium, in one browser for the batch.

    A result is `{"ok": False, "error": ...}` or `{"ok": True, "bars": [...], "ticks": [...],
    "svg": ...}`: `bars` are a gantt's task rects in drawing order, each with its CSS
    `classes` (e.g. ["task", "done0"]) and `label`; `ticks` the axis labels as a browser in
    `timezone` shows them. `pngs[i]`, when given, receives a screenshot of chart i.
    """
    ensure_node_modules()
    ensure_chromium()
    charts = [
        {"text": text, "timezone": timezone, "png": str(Path(png).resolve()) if png else None}
        for text, png in zip(texts, [*pngs, *[None] * (len(texts) - len(pngs))], strict=True)
    ]
    result = subprocess.run(
        ["node", "render.mjs"],
        cwd=MERMAID_DIR,
        input=json.dumps({"charts": charts}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "CHROMIUM": str(CHROMIUM)},
    )
    if result.returncode:
        raise RuntimeError(f"render.mjs exited {result.returncode}: {result.stderr[-4000:]}")
    rendered: list[dict[str, Any]] = json.loads(result.stdout)
    return rendered


@pytest.fixture(scope="session")
def mermaid_node() -> None:
    """The pinned mermaid package installed (once per session, whichever worker asks first)."""
    _get_checker()


@pytest.fixture(scope="session")
def mermaid_browser(mermaid_node: None) -> None:
    """Chromium installed too, for `render_charts`."""
    ensure_chromium()
