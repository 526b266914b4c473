"""The stages' layering holds: a module imports only from the layers below its own.

The contract is in pyproject.toml ([tool.importlinter]); lint-imports checks it over the
whole import graph, imports inside functions included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_the_stages_import_only_the_stages_below_them() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout
