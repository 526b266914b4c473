"""README's Quick start, as a user on a stock Debian/Ubuntu Python runs it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import REPO

SYSTEM_PYTHON = Path("/usr/bin/python3")


def quick_start() -> list[str]:
    """The two commands, read from README exactly as .ci/run reads them."""
    section = re.search(
        r"^## Quick start\n(.*?)^## ", (REPO / "README.md").read_text(), re.M | re.S
    )
    assert section, "README has no Quick start section"
    block = re.search(r"^```bash\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "Quick start has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_first_command_works_where_pip_refuses_the_system_python(tmp_path: Path) -> None:
    marker = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (Path(marker) / "EXTERNALLY-MANAGED").is_file(), (
        f"{SYSTEM_PYTHON} should be Debian's externally-managed Python (PEP 668)"
    )
    checkout = tmp_path / "checkout"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        target = checkout / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name.decode()).read_bytes())
    first = quick_start()[0]
    environment = {
        "PATH": f"{SYSTEM_PYTHON.parent}:/bin",  # python3 is the system's, as on Debian
        "HOME": str(Path.home()),  # pip's cache of wheels, as a user would have it
        "TRAIN_ORCH_ONLY": "random_forest",  # the install is what is under test here
    }
    result = subprocess.run(
        ["bash", "-c", first],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((checkout / "summaries/latest.json").read_text())
    assert [(job["id"], job["status"]) for job in summary["jobs"]] == [
        ("random_forest", "succeeded")
    ]
    version = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert summary["python"] == version  # the jobs ran on the system's Python, in the venv
