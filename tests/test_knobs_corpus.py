"""The knob corpus (tests/knob_corpus, labelled before the detectors were written): what
`--dry-run --epochs 3` passes each script is exactly what its labels say, and nothing
reaches a script that lacks a knob."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Project

CORPUS = REPO / "tests/knob_corpus"
LABELS: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "labels.yaml").read_text())
#: Variables every job gets, whatever its script.
BASE_ENV = {"PYTHONUNBUFFERED", "TRAIN_ORCH_OUTPUT_DIR", "TRAIN_ORCH_JOB_ID"}
SEED = "7"


def job_id(script: str) -> str:
    return Path(script).stem.removeprefix("train_")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """The dry-run plan of the whole corpus: by default, and with `knobs: likely`."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for level in ("certain", "likely"):
        project = Project(tmp_path_factory.mktemp(level))
        shutil.copytree(CORPUS, project.root / "corpus")
        project.config("configs/jobs.yaml", f"defaults:\n  seed: {SEED}\n  knobs: {level}\n")
        result = project.run(
            "--dry-run", "--format", "json", "--epochs", "3", "--discover-roots", "corpus"
        )
        assert result.returncode == 0, result.stderr
        found[level] = {job["id"]: job for job in json.loads(result.stdout)["jobs"]}
    return found


def expected(script: str, level: str, output_dir: str) -> tuple[list[str], dict[str, str]]:
    """The argv after the script, and the variables, that the labels call for."""
    labels = LABELS[script]
    values = {"output_dir": output_dir, "epochs": "3", "seed": SEED}
    flags: list[str] = []
    overrides: list[str] = []
    env: dict[str, str] = {}
    for knob in ("output_dir", "epochs", "seed"):  # the order the plan fills them in
        label = labels[knob]
        if label == "none" or (label[2] == "likely" and level == "certain"):
            continue
        spelling, style, _ = label
        if style == "flag":
            flags += [spelling, values[knob]]
        elif style == "override":
            overrides.append(f"{spelling}={values[knob]}")
        else:
            env[spelling] = values[knob]
    return [*labels.get("args_prefix", []), *flags, *overrides], env


@pytest.mark.parametrize("level", ["certain", "likely"])
@pytest.mark.parametrize("script", sorted(LABELS))
def test_each_script_gets_exactly_its_labelled_knobs(
    plans: dict[str, dict[str, dict[str, Any]]], script: str, level: str
) -> None:
    job = plans[level][job_id(script)]
    argv, env = expected(script, level, job["output_dir"])
    assert job["argv"][1] == f"corpus/{script}"
    assert job["argv"][2:] == argv
    own_env = {
        k: v for k, v in job["env"].items() if k not in BASE_ENV and not k.endswith("_THREADS")
    }
    assert own_env == env


def test_the_corpus_is_all_labelled_and_all_discovered(
    plans: dict[str, dict[str, dict[str, Any]]],
) -> None:
    scripts = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("train_*.py"))
    assert scripts == sorted(LABELS)
    assert sorted(plans["certain"]) == sorted(job_id(s) for s in scripts)


def test_mapping_rate_and_false_positives(plans: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The issue's measure: certain knobs mapped / all certain knobs, and knobs passed to a
    script whose label says it has none (or under another spelling)."""
    mapped = certain = false_positives = 0
    for script, labels in LABELS.items():
        job = plans["certain"][job_id(script)]
        passed = {k["knob"]: k["spelling"] for k in job["knobs"]}
        for knob in ("output_dir", "epochs", "seed"):
            label = labels[knob]
            if label != "none" and label[2] == "certain":
                certain += 1
                mapped += passed.get(knob) == label[0]
            if knob in passed and (label == "none" or passed[knob] != label[0]):
                false_positives += 1
    assert certain == 59  # 21 epoch counts, 23 output dirs, 15 seeds
    assert (mapped, false_positives) == (certain, 0)


def test_list_json_says_how_and_why(plans: dict[str, dict[str, dict[str, Any]]]) -> None:
    """A likely mapping is shown with its confidence and why it is not passed; a
    look-alike is said to be one."""
    jobs = plans["certain"]
    assert jobs["ambiguous"]["knobs_missing"]["epochs"] == (
        "--epoch is likely (argparse synonym): `knobs: likely` passes it"
    )
    assert jobs["input_dirs"]["knobs_missing"] == {
        "output_dir": "--save_dir: read from, not written to "
        "(help: 'directory to load the pretrained checkpoint from')",
        "epochs": "--epoch: help says 'epoch to start training from'",
        "seed": "none found",
    }
    assert {k["knob"]: k for k in jobs["glue"]["knobs"]}["epochs"] == {
        "knob": "epochs",
        "spelling": "--num_train_epochs",
        "style": "flag",
        "source": "transformers TrainingArguments",
        "confidence": "certain",
    }
