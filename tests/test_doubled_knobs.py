"""A job's `args:` or matrix that passes a standard setting a second time is refused.

The script keeps the last of two `--epochs`: `args: {epochs: 100}` beside the job's
`--epochs` made `run-all-training --epochs 1` train 100 epochs, reported green; an
`output-dir` of its own sent the job's metrics where no report reads them. Planning
refuses both before anything runs (exit 2, naming the file, line and key).
"""

from __future__ import annotations

import pytest
from conftest import Project
from test_knobs_plan import argv_env

from orchestrator.errors import ConfigError
from orchestrator.models import JobSpec, Knob

FLAGS = ("--output-dir", "--epochs", "--seed")
HF_EPOCHS = Knob("epochs", "--num_train_epochs", "flag", "transformers", "certain")
HYDRA_EPOCHS = Knob("epochs", "trainer.max_epochs", "override", "hydra", "certain")
ENV_DIR = Knob("output_dir", "OUTPUT_DIR", "env", "environment", "certain")


def argv(spec: JobSpec, **options: object) -> list[str]:
    return argv_env(spec, **options)[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            JobSpec(id="a", script="a.py", flags=FLAGS, params=(("epochs", "100"),)),
            "--epochs is the job's epochs, which the orchestrator passes; a second one would "
            "win over it and over --epochs typed in a run; set 'epochs: 100' on the job instead",
        ),
        (
            JobSpec(id="a", script="a.py", flags=FLAGS, args=("--seed=3",)),
            "--seed is the job's seed, which the orchestrator passes",
        ),
        (
            JobSpec(id="a", script="a.py", flags=FLAGS, params=(("output_dir", "/tmp/x"),)),
            "--output-dir is the job's output dir, which the orchestrator chooses; drop it",
        ),
        (
            JobSpec(id="a", script="a.py", knobs=(HF_EPOCHS,), params=(("num_train_epochs", "9"),)),
            "--num_train_epochs is the job's epochs",
        ),
        (
            JobSpec(id="a", script="a.py", knobs=(HYDRA_EPOCHS,), args=("++trainer.max_epochs=9",)),
            "trainer.max_epochs is the job's epochs",
        ),
    ],
)
def test_a_setting_passed_twice_is_refused(spec: JobSpec, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        argv(spec, epochs=1)
    assert message in str(refused.value)


def test_what_is_not_a_passed_setting_stays_a_plain_flag() -> None:
    # No --epochs declared, nothing passes it: the job's own --epochs is its only one.
    undeclared = JobSpec(id="a", script="a.py", flags=("--output-dir",), params=(("epochs", "3"),))
    assert argv(undeclared, epochs=1) == ["--output-dir", "out/results/a_results", "--epochs", "3"]
    # A variable the job sets in its `env:` wins on purpose; a flag of that name is no knob.
    env_knob = JobSpec(id="a", script="a.py", knobs=(ENV_DIR,), params=(("output_dir", "x"),))
    assert argv(env_knob) == ["--output-dir", "x"]
    # A look-alike is no setting: `--epochs-per-eval` is not `--epochs`.
    lookalike = JobSpec(id="a", script="a.py", flags=FLAGS, args=("--epochs-per-eval", "2"))
    assert argv(lookalike, epochs=1)[2:] == ["--epochs", "1", "--epochs-per-eval", "2"]
    # A command is passed as written: the orchestrator adds no setting to it.
    command = JobSpec(id="a", command=("python", "a.py", "--epochs", "3"), epochs=5)
    assert argv(command) == ["--epochs", "3"]  # after "python a.py"


SCRIPT = """
import argparse, json, os
p = argparse.ArgumentParser()
p.add_argument("--output-dir")
p.add_argument("--epochs", type=int)
p.add_argument("--seed", type=int)
p.add_argument("--lr")
a = p.parse_args()
os.makedirs(a.output_dir, exist_ok=True)
with open(os.path.join(a.output_dir, "metrics.json"), "w") as f:
    json.dump({"epochs": a.epochs}, f)
"""


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            """
            defaults: {seed: 42}
            jobs:
              fit: {args: {lr: 0.1, epochs: 100}}
            """,
            "error: configs/jobs.yaml:3: jobs.fit.args.epochs: --epochs is the job's epochs",
        ),
        (
            """
            jobs:
              fit:
                args: {lr: 0.1}
                matrix: {lr: ["1"], output-dir: [a, b]}
            """,
            "error: configs/jobs.yaml:4: jobs.fit.matrix.output-dir: --output-dir is the job's "
            "output dir",
        ),
    ],
)
def test_a_run_refuses_it_before_anything_trains(project: Project, config: str, error: str) -> None:
    project.script("training/train_fit.py", SCRIPT)
    project.config("configs/jobs.yaml", config)
    for args in (("--dry-run",), ("--epochs", "1")):
        result = project.run(*args)
        assert result.returncode == 2
        assert result.stderr.startswith(error)
        assert "Traceback" not in result.stderr
    assert not (project.root / "results").exists()
