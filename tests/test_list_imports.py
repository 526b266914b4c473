"""What `--list` loads: only what listing needs (issue 18's start-up budget).

`bench/startup.py` counts the instructions; this checks the modules, which a stray
top-level import (a type used only in an annotation) silently adds.
"""

from __future__ import annotations

from conftest import Project


def _imported(project: Project, *args: str) -> set[str]:
    imported, result = project.imported(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return imported


def test_list_loads_neither_the_summary_nor_the_schema_export(project: Project) -> None:
    project.script("training/train_a.py")
    # `auto` needs are what plan/ and resources.py learn from run_summary/'s measurements.
    project.config("configs/jobs.yaml", "jobs:\n  a: {memory: auto, cpus: auto}\n")
    imported = _imported(project, "--list")
    assert "orchestrator.config.keys" in imported  # the config was read and checked
    assert "orchestrator.plan" in imported
    assert sorted(m for m in imported if m.startswith("orchestrator.run_summary")) == []
    assert "orchestrator.config.export" not in imported  # config-schema's alone
