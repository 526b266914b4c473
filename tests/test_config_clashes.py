"""Jobs that would share files, and env/command values no process can be started with.

Two ids with one file name (`prep data`, `prep_data`) would write one log and one results
dir: interleaved output, and one job reported with the other's metrics (passing its gates
with them). A bad `env` name or an empty program fails every attempt with exit 127. Both
are config errors: exit 2, `file:line[:col]: key: message`, before anything runs.
"""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO, Project
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.models import JobSpec, RunOptions
from orchestrator.plan import build_plan

RENAME = "; rename one"


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a run refused as a config error: exit 2, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()[0]


# ----------------------------------------------------------------------------- clashes
def test_two_scripts_with_one_file_name_are_refused_before_anything_runs(
    project: Project,
) -> None:
    project.script("training/train_prep data.py")
    project.script("training/train_prep_data.py")
    expected = (
        "error: training/train_prep_data.py: jobs.prep_data: 'prep_data' shares "
        "logs/prep_data.log and results/prep_data_results/ with 'prep data'" + RENAME
    )
    for args in (["--dry-run"], [], ["--only", "prep_data"]):
        assert refused(project.run(*args)) == expected, args
    assert not (project.root / "logs").exists()
    assert not (project.root / "results").exists()


def test_list_shows_both_clashing_jobs_marked(project: Project) -> None:
    project.script("training/train_prep data.py")
    project.script("training/train_prep_data.py")
    result = project.run("--list", "--format", "json")
    assert result.returncode == 0, result.stderr
    errors = {job["id"]: job["error"] for job in json.loads(result.stdout)["jobs"]}
    assert errors == {
        "prep data": "shares its log and results dir with 'prep_data'",
        "prep_data": "shares its log and results dir with 'prep data'",
    }


CLASHING_CONFIGS = {
    "cyrillic, space and underscore": (
        "jobs:\n  модель 1: {command: [echo, a]}\n  модель_1: {command: [echo, b]}\n",
        "error: configs/jobs.yaml:3: jobs.модель_1: 'модель_1' shares logs/модель_1.log and "
        "results/модель_1_results/ with 'модель 1'" + RENAME,
    ),
    "cyrillic, case only": (
        "jobs:\n  модель: {command: [echo, a]}\n  Модель: {command: [echo, b]}\n",
        "error: configs/jobs.yaml:3: jobs.Модель: 'Модель' shares logs/Модель.log and "
        "results/Модель_results/ with 'модель' where case is ignored (macOS, Windows)" + RENAME,
    ),
    "matrix values": (
        "jobs:\n  forest:\n    command: [echo]\n    matrix:\n      opt: ['a b', a_b, c]\n",
        "error: configs/jobs.yaml:4: jobs.forest.matrix: 'forest[opt=a_b]' shares "
        "logs/forest_opt=a_b_.log and results/forest_opt=a_b__results/ with 'forest[opt=a b]'"
        "; change one of the values",
    ),
    "a job and a matrix combination": (
        "jobs:\n  forest: {command: [echo], matrix: {seed: [1]}}\n"
        "  forest_seed=1_: {command: [echo]}\n",
        "error: configs/jobs.yaml:3: jobs.forest_seed=1_: 'forest_seed=1_' shares "
        "logs/forest_seed=1_.log and results/forest_seed=1__results/ with 'forest[seed=1]'"
        + RENAME,
    ),
    "a job and a sweep's trial": (
        "jobs:\n  sw:\n    command: [echo]\n"
        "    sweep: {metric: acc, params: {lr: {float: [0.1, 0.2]}}}\n"
        "  SW[trial=3]: {command: [echo]}\n",
        "error: configs/jobs.yaml:5: jobs.SW[trial=3]: 'SW[trial=3]' shares "
        "logs/SW_trial=3_.log and results/SW_trial=3__results/ with 'sw[trial=3]' "
        "where case is ignored (macOS, Windows)" + RENAME,
    ),
    "a job and a trial of a matrix combination's sweep": (
        "jobs:\n  sw:\n    command: [echo]\n    matrix: {s: [a, b]}\n"
        "    sweep: {metric: acc, params: {lr: {float: [0.1, 0.2]}}}\n"
        "  sw_s=b__trial=12_: {command: [echo]}\n",
        "error: configs/jobs.yaml:6: jobs.sw_s=b__trial=12_: 'sw_s=b__trial=12_' shares "
        "logs/sw_s=b__trial=12_.log and results/sw_s=b__trial=12__results/ with "
        "'sw[s=b][trial=12]'" + RENAME,
    ),
    "a matrix combination written as a job too": (
        "jobs:\n  m: {command: [echo], matrix: {x: [1]}}\n  m[x=1]: {command: [echo]}\n",
        "error: configs/jobs.yaml:3: jobs.m[x=1]: 'm[x=1]' shares logs/m_x=1_.log and "
        "results/m_x=1__results/ with another job of the same id" + RENAME,
    ),
    "matrix values that differ only in case": (
        "jobs:\n  m:\n    command: [echo]\n    matrix: {o: [A, a]}\n",
        "error: configs/jobs.yaml:4: jobs.m.matrix: 'm[o=a]' shares logs/m_o=a_.log and "
        "results/m_o=a__results/ with 'm[o=A]' where case is ignored (macOS, Windows); "
        "change one of the values",
    ),
}


@pytest.mark.parametrize("case", CLASHING_CONFIGS)
def test_config_jobs_with_one_file_name_are_refused(project: Project, case: str) -> None:
    text, expected = CLASHING_CONFIGS[case]
    project.config("configs/jobs.yaml", text)
    assert refused(project.run("--dry-run")) == expected


def test_ids_in_other_alphabets_keep_their_letters(project: Project) -> None:
    """Before, every id of six Cyrillic letters became `______`: all shared one log."""
    project.script("tools/train.py")
    project.config(
        "configs/jobs.yaml",
        "jobs:\n  модель: {script: tools/train.py}\n  данные: {script: tools/train.py}\n",
    )
    result = project.run("--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    paths = {j["id"]: (j["log_path"], j["output_dir"]) for j in json.loads(result.stdout)["jobs"]}
    assert paths == {
        "модель": ("logs/модель.log", "results/модель_results"),
        "данные": ("logs/данные.log", "results/данные_results"),
    }


ORDINARY = {
    "random_forest": "random_forest",
    "xgb-2.1": "xgb-2.1",
    "forest[seed=0,max_depth=4]": "forest_seed=0,max_depth=4_",
    "lgbm@sub.dir": "lgbm@sub.dir",
    ".hidden": "_.hidden",
    "a/../b": "a_.._b",
}


def plan_paths(ids: list[str], root: str = ".") -> dict[str, tuple[str, str]]:
    plan = build_plan(
        [JobSpec(id=i, command=("true",)) for i in ids],
        RunOptions(output_root=root),
        python="python",
        cpu_count=1,
    )
    return {job.id: (job.log_path, job.output_dir) for job in plan.jobs}


def test_ordinary_ids_keep_their_usual_paths() -> None:
    assert plan_paths(list(ORDINARY), root="out") == {
        job_id: (f"out/logs/{name}.log", f"out/results/{name}_results")
        for job_id, name in ORDINARY.items()
    }


def test_a_long_id_keeps_a_prefix_and_a_hash_within_the_name_limit() -> None:
    (log, _), (other, _) = plan_paths(["я" * 80 + "1", "я" * 80 + "2"]).values()
    assert log != other
    assert log.startswith("logs/" + "я" * 43 + "-")
    assert len(Path(log).stem.encode()) <= 100


IDS = st.text(
    st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf")),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(IDS, min_size=2, max_size=6, unique=True))
@example(["prep data", "prep_data"])
@example(["модель", "данные"])
def test_no_two_accepted_jobs_share_a_file(ids: list[str]) -> None:
    """Either every job gets files of its own, even where case is ignored, or the plan is
    refused; and no name escapes its directory."""
    try:
        paths = plan_paths(ids)
    except ConfigError as exc:
        assert " with " in exc.message
        return
    folded = {unicodedata.normalize("NFC", p.casefold()) for pair in paths.values() for p in pair}
    assert len(folded) == 2 * len(ids)
    for log, output_dir in paths.values():
        assert Path(log).parent == Path("logs")
        assert Path(output_dir).parent == Path("results")
        assert not Path(log).name.startswith(".")
        assert "\0" not in log + output_dir


# ----------------------------------------------------------------------------- env, command
BAD_VALUES = {
    "env name with =": (
        "jobs:\n  a:\n    command: [echo]\n    env: {A=B: 1}\n",
        "configs/jobs.yaml:4:11: jobs.a.env.A=B: environment variable name contains '='",
    ),
    "empty env name": (
        'jobs:\n  a:\n    command: [echo]\n    env:\n      "": 1\n',
        "configs/jobs.yaml:5:7: jobs.a.env.: environment variable name is empty",
    ),
    "env name with NUL in defaults": (
        'defaults:\n  env: {"A\\0": 1}\njobs:\n  a: {command: [echo]}\n',
        "configs/jobs.yaml:2:9: defaults.env.A\0: environment variable name contains '\\x00'",
    ),
    "empty command list": (
        "jobs:\n  a:\n    command: []\n",
        "configs/jobs.yaml:3:5: jobs.a.command: command is empty",
    ),
    "empty program in a list": (
        'jobs:\n  a:\n    command: ["", x]\n',
        "configs/jobs.yaml:3:15: jobs.a.command.0: the program name is empty, got ''",
    ),
    "empty program in a string": (
        "jobs:\n  a:\n    command: '\"\" x'\n",
        "configs/jobs.yaml:3:5: jobs.a.command: the program name is empty, got ''",
    ),
    "NUL in an argument": (
        'jobs:\n  a:\n    command: [echo, "a\\0b"]\n',
        "configs/jobs.yaml:3:21: jobs.a.command.1: must not contain a NUL character, got 'a\\x00b'",
    ),
}


@pytest.mark.parametrize("case", BAD_VALUES)
def test_values_no_process_can_start_with_are_config_errors(project: Project, case: str) -> None:
    text, expected = BAD_VALUES[case]
    project.config("configs/jobs.yaml", text)
    assert refused(project.run()) == f"error: {expected}"
    assert not (project.root / "logs").exists()


SCHEMA = json.loads((REPO / "orchestrator/schemas/config.schema.json").read_text())


@pytest.mark.parametrize(
    "case", ["env name with =", "empty env name", "empty command list", "empty program in a list"]
)
def test_published_schema_rejects_them_too(case: str) -> None:
    """An editor using the schema flags what the validator refuses."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(BAD_VALUES[case][0]), SCHEMA)
