"""Editing a module a script imports from its own directory reruns the job.

`python training/train_rf.py` imports `training/common.py` for `import common`; the
fingerprint held the script alone, so after an edit to `common.py` every bundled job was
`cached`, reporting the metrics of the code before the edit.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Project, write

from orchestrator.decide.fingerprints import changed_part, fingerprints
from orchestrator.decide.imports import local_modules
from orchestrator.models import JobSpec, RunOptions
from orchestrator.plan import build_plan


def test_the_modules_a_script_runs_are_found_from_its_source(tmp_path: Path) -> None:
    write(
        tmp_path / "training/train_a.py",
        """
        import json, common
        from pkg import mod
        from pkg.sub import thing
        from space.inner import x
        import missing, common.nothing
        def later():
            import lazy
        """,
    )
    write(tmp_path / "training/common.py", "import helpers\nimport train_a\n")
    write(tmp_path / "training/helpers.py", "import os\n")
    write(tmp_path / "training/lazy.py", "")
    write(tmp_path / "training/pkg/__init__.py", "")
    write(tmp_path / "training/pkg/mod.py", "from . import rel\nfrom .. import common\n")
    write(tmp_path / "training/pkg/rel.py", "from ... import outside\n")
    write(tmp_path / "training/pkg/sub/__init__.py", "")
    write(tmp_path / "training/pkg/sub/thing.py", "")  # a submodule, imported by name
    write(tmp_path / "training/space/inner.py", "")  # a namespace package: no __init__.py
    write(tmp_path / "training/unused.py", "")
    write(tmp_path / "outside.py", "")  # above the script's dir: not on its sys.path
    found = local_modules(tmp_path / "training/train_a.py")
    assert [p.relative_to(tmp_path / "training").as_posix() for p in found] == [
        "common.py",
        "helpers.py",
        "lazy.py",
        "pkg/__init__.py",
        "pkg/mod.py",
        "pkg/rel.py",
        "pkg/sub/__init__.py",
        "pkg/sub/thing.py",
        "space/inner.py",
    ]


def test_an_edited_module_is_the_part_that_changed(tmp_path: Path) -> None:
    write(tmp_path / "training/train_a.py", "import common\n")
    write(tmp_path / "training/train_b.py", "import json\n")
    write(tmp_path / "training/common.py", "SCORE = 0.5\n")
    specs = [JobSpec(id=job, script=f"training/train_{job}.py") for job in ("a", "b")]
    plan = build_plan(specs, RunOptions(), python="py", cpu_count=1, inherited_env={})
    before = fingerprints(plan, tmp_path, {})
    assert "import:training/common.py" in before["a"]
    assert sorted(before["b"]) == ["argv", "env", "orchestrator", "script"]  # as it was
    write(tmp_path / "training/common.py", "SCORE = 0.9\n")
    after = fingerprints(plan, tmp_path, {})
    assert changed_part(after["a"], before["a"]) == "import:training/common.py"
    assert changed_part(after["b"], before["b"]) is None


SCRIPT = """
import argparse, json, pathlib
import helper
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
out = pathlib.Path(parser.parse_args().output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"acc": helper.SCORE}))
"""


def test_a_run_after_editing_a_helper_trains_again(project: Project) -> None:
    project.script("training/train_m.py", SCRIPT)
    project.script("training/helper.py", "SCORE = 0.5\n")
    assert project.run().returncode == 0
    project.script("training/helper.py", "SCORE = 0.9\n")
    preview = project.run("--dry-run")
    assert "# m\n# runs: import training/helper.py changed\n" in preview.stdout
    assert project.run().returncode == 0
    assert (project.jobs()["m"]["status"], project.jobs()["m"]["metrics"]) == (
        "succeeded",
        {"acc": 0.9},
    )
    assert "# cached: unchanged since" in project.run("--dry-run").stdout
