"""`--dry-run` of a sweep: its study (new or resumed, and why), trials done and left, the
search space and one example trial command, read from the store without importing Optuna."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import Project
from test_sweep_studies import shifted_project
from test_sweeps import SLEEPY, sweep_config


def files(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): path.stat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file()
    }


def sweep_block(stdout: str, job: str) -> list[str]:
    """The lines of one job in the dry-run's text, after its `# job` header."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# {job}"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == ""), len(lines))
    return lines[start + 1 : end]


def test_a_new_study_shows_its_search_space_and_an_example_trial(project: Project) -> None:
    shifted_project(project)
    before = files(project.root)
    result = project.run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert files(project.root) == before  # nothing written, no study store made
    runs, study, search, example, command = sweep_block(result.stdout, "shift")
    assert runs == "# runs: 3 trials of a new study"
    name = study.split()[2].removesuffix(":")
    assert study == f"# study {name}: new (no earlier study) · 0 done, 3 to run"
    assert search == "# search x float [-1, 1] · tpe sampler, none pruner, 1 at a time"
    assert example == "# e.g. trial 0, with the middle of each range (the sampler picks):"
    trial_dir = f"results/shift_results/study-{name.removeprefix('shift-')}/trial_0"
    assert command == f"# {sys.executable} training/train_shift.py --output-dir {trial_dir} --x 0.0"
    # The run then uses exactly that study and that dir.
    assert project.run().returncode == 0
    assert project.jobs()["shift"]["sweep"]["study"] == name
    assert project.jobs()["shift[trial=0]"]["output_dir"] == trial_dir


def test_a_resumed_study_shows_trials_done_and_left(project: Project) -> None:
    project.script("training/train_sleepy.py", SLEEPY)
    body = "metric: score\nn_trials: 8\ntimeout: 1\npruner: none\nparams:\n  x: {float: [0, 1]}"
    project.config("configs/jobs.yaml", sweep_config("sleepy", body))
    assert project.run().returncode == 0  # the sweep's timeout ends it after a few trials
    sweep = project.jobs()["sleepy"]["sweep"]
    done = sweep["trials"]["complete"]
    assert 0 < done < 8
    before = files(project.root)
    result = project.run("--dry-run")
    assert files(project.root) == before
    runs, study, *_ = sweep_block(result.stdout, "sleepy")
    assert runs == f"# runs: {8 - done} more trials of its study"
    assert study == f"# study {sweep['study']}: resumed · {done} done, {8 - done} to run"
    assert f"# e.g. trial {done}, with" in result.stdout


def test_a_complete_study_an_edited_script_and_force(project: Project) -> None:
    shifted_project(project)
    assert project.run().returncode == 0
    name = project.jobs()["shift"]["sweep"]["study"]
    runs, study, *_ = sweep_block(project.run("--dry-run").stdout, "shift")
    assert runs == "# runs: no trial: its study is complete (its best is reported again)"
    assert study == f"# study {name}: resumed · 3 done, 0 to run"
    _, study, *_ = sweep_block(project.run("--dry-run", "--force", "shift").stdout, "shift")
    assert study == f"# study {name}.2: new (--force; earlier {name}) · 0 done, 3 to run"
    script = project.root / "training/train_shift.py"
    script.write_text(script.read_text() + "\n# edited\n")
    _, study, *_ = sweep_block(project.run("--dry-run").stdout, "shift")
    assert study.endswith(f": new (script changed; earlier {name}) · 0 done, 3 to run")
    assert project.run().returncode == 0
    assert project.jobs()["shift"]["sweep"]["study"] == study.split()[2].removesuffix(":")


def test_json_and_markdown_carry_the_study(project: Project) -> None:
    shifted_project(project)
    plan = json.loads(project.run("--dry-run", "--format", "json").stdout)
    study = next(job for job in plan["jobs"] if job["id"] == "shift")["study"]
    assert (study["new"], study["new_because"], study["done"], study["left"]) == (
        True,
        "no earlier study",
        0,
        3,
    )
    assert study["search_space"] == "x float [-1, 1]"
    assert study["example_trial"]["id"] == "shift[trial=0]"
    assert study["example_trial"]["argv"][-2:] == ["--x", "0.0"]
    markdown = project.run("--dry-run", "--format", "markdown").stdout
    row = next(line for line in markdown.splitlines() if line.startswith("| `shift` |"))
    assert f"study {study['name']}: new (no earlier study)" in row
    assert "`e.g. " in row


def test_a_damaged_store_is_reported_and_left_as_it_is(project: Project) -> None:
    shifted_project(project)
    store = project.root / ".train_orch/optuna.db"
    store.parent.mkdir()
    store.write_bytes(b"not a database\n" * 100)
    before = files(project.root)
    result = project.run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert files(project.root) == before
    _, study, *_ = sweep_block(result.stdout, "shift")
    assert study.endswith(
        "· 0 done, 3 to run · .train_orch/optuna.db is damaged: "
        "a run sets it aside and starts new studies"
    )


def test_a_sweeps_dry_run_imports_no_optuna(project: Project) -> None:
    shifted_project(project)
    assert project.run().returncode == 0  # a store to read
    imported, result = project.imported("--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "orchestrator.studies" in imported  # the store was read
    assert {m.split(".")[0] for m in imported} & {"optuna", "sqlalchemy", "alembic"} == set()
    assert "resumed · 3 done, 0 to run" in result.stdout


def test_a_long_example_command_stays_one_commented_line(project: Project) -> None:
    names = [f"a_rather_long_parameter_name_{i}" for i in range(8)]
    project.script(
        "training/train_wide.py",
        "import sys, pathlib, json\n"
        "out = sys.argv[sys.argv.index('--output-dir') + 1]\n"
        "pathlib.Path(out, 'metrics.json').write_text(json.dumps({'loss': 1.0}))\n",
    )
    params = "".join(f"\n  {name}: {{int: [1, 9]}}" for name in names)
    body = f"metric: loss\nn_trials: 2\nparams:{params}"
    project.config(
        "configs/jobs.yaml",
        sweep_config("wide", body).replace(
            "    sweep:", "    script: training/train_wide.py\n    sweep:"
        ),
    )
    result = project.run("--dry-run")
    assert result.returncode == 0, result.stderr
    block = sweep_block(result.stdout, "wide")
    assert all(line.startswith("# ") for line in block)  # pasted in a shell, none runs
    assert block[-1].endswith(f"--{names[-1].replace('_', '-')} 5")
    assert len(block[-1]) > 200
