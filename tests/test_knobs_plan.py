"""Knobs in the plan, as values: where each style goes in the argv, what `knobs: likely`,
`flag_names` and `args_prefix` change, and that the discovery cache keeps knobs only
while the config files they came from are unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Project, write

from orchestrator import discovery
from orchestrator.discovery import discover
from orchestrator.discovery_cache import keep_facts, use_kept_facts
from orchestrator.models import JobSpec, Knob, RunOptions
from orchestrator.plan import build_plan

EPOCHS = Knob("epochs", "trainer.max_epochs", "override", "hydra", "certain")
RUN_DIR = Knob("output_dir", "hydra.run.dir", "override", "hydra", "certain")
LIKELY_SEED = Knob("seed", "--rng", "flag", "argparse synonym", "likely")
ENV_DIR = Knob("output_dir", "OUTPUT_DIR", "env", "environment", "certain")


def argv_env(spec: JobSpec, **options: object) -> tuple[list[str], dict[str, str]]:
    plan = build_plan(
        [spec],
        RunOptions(output_root="out", **options),  # type: ignore[arg-type]
        python="py",
        cpu_count=1,
        inherited_env={},
    )
    job = plan.jobs[0]
    return list(job.argv[2:]), dict(job.env)


def test_overrides_go_after_the_positionals_and_the_prefix_first() -> None:
    spec = JobSpec(
        id="h",
        script="h.py",
        knobs=(EPOCHS, RUN_DIR),
        args_prefix=("fit",),
        args=("data.csv",),
        seed=1,
    )
    assert argv_env(spec, epochs=3)[0] == [
        "fit",
        "data.csv",
        "hydra.run.dir=out/results/h_results",
        "trainer.max_epochs=3",
    ]


def test_a_likely_knob_is_passed_only_with_knobs_likely() -> None:
    spec = JobSpec(id="a", script="a.py", knobs=(LIKELY_SEED,), seed=5)
    assert argv_env(spec)[0] == []
    assert argv_env(replace(spec, knob_level="likely"))[0] == ["--rng", "5"]


def test_flag_names_win_over_detection_and_a_variable_goes_to_the_env() -> None:
    spec = JobSpec(
        id="a",
        script="a.py",
        knobs=(EPOCHS, ENV_DIR),
        flag_names=(("epochs", "--n"),),
        env=(("OTHER", "x"),),
    )
    argv, env = argv_env(spec, epochs=2)
    assert argv == ["--n", "2"]
    assert env["OUTPUT_DIR"] == "out/results/a_results"


def test_the_jobs_own_env_wins_over_a_detected_variable() -> None:
    spec = JobSpec(id="a", script="a.py", knobs=(ENV_DIR,), env=(("OUTPUT_DIR", "/mine"),))
    assert argv_env(spec)[1]["OUTPUT_DIR"] == "/mine"


def test_a_command_job_gets_no_knobs() -> None:
    spec = JobSpec(id="c", command=("make", "fit", "x"), knobs=(EPOCHS,))
    assert argv_env(spec, epochs=3)[0] == ["x"]


HYDRA = """
import hydra
@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg): ...
"""


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "PARSED", {})
    monkeypatch.setattr(discovery, "KEPT", {})


def knob_spellings(root: Path) -> list[str]:
    """What a run discovers, as a new process that keeps the facts for the next."""
    use_kept_facts(root / ".train_orch")
    scripts, _ = discover(["training"], root)
    keep_facts(root / ".train_orch")
    discovery.PARSED.clear()
    discovery.KEPT.clear()
    return [k.spelling for k in scripts[0].knobs]


@pytest.mark.usefixtures("fresh_process")
def test_kept_knobs_hold_only_while_their_config_files_are_unchanged(tmp_path: Path) -> None:
    write(tmp_path / "training/train_h.py", HYDRA)
    write(tmp_path / "training/conf/config.yaml", "epochs: 3\n")
    (tmp_path / ".train_orch").mkdir()
    assert knob_spellings(tmp_path) == ["hydra.run.dir", "epochs"]
    write(tmp_path / "training/conf/config.yaml", "trainer:\n  max_epochs: 3\n")
    assert knob_spellings(tmp_path) == ["hydra.run.dir", "trainer.max_epochs"]
    (tmp_path / "training/conf/config.yaml").unlink()
    assert knob_spellings(tmp_path) == ["hydra.run.dir"]


def test_args_prefix_in_config_replaces_the_detected_one(project: Project) -> None:
    project.script(
        "training/train_cli.py", "from lightning.pytorch.cli import LightningCLI\nLightningCLI(M)\n"
    )
    project.config("configs/jobs.yaml", "jobs:\n  cli:\n    args_prefix: [fit, --config, c.yaml]\n")
    result = project.run("--dry-run", "--epochs", "2")
    assert (
        "training/train_cli.py fit --config c.yaml --trainer.default_root_dir "
        "results/cli_results --trainer.max_epochs 2"
    ) in result.stdout
