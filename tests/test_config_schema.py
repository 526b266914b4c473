"""The published config schema is generated from the validator and agrees with it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO

from orchestrator.config import load_configs
from orchestrator.config.export import config_reference, config_schema
from orchestrator.errors import ConfigError

PUBLISHED = REPO / "orchestrator/schemas/config.schema.json"

GOOD = {
    "empty": "",
    "defaults only": "defaults: {seed: 1, retries: 2, env: {A: 1}, retry_on: timed_out}",
    "full job": """
        jobs:
          a:
            script: tools/train.py
            args: {max_depth: 4, verbose: true, layers: [64, 32]}
            epochs: 3
            folds: 2
            tags: [x, y]
            gates: {accuracy: ">= 0.9", rmse: "<1e3"}
            flag_names: {epochs: --num_train_epochs}
            needs: [b]
            priority: high
            timeout: 1.5
            cpus: 2
          b: {command: "sh -c 'echo hi'", optional: true, cache: false, inputs: "data/*.csv"}
          c:
    """,
}
BAD = {
    "unknown key": "jobs: {a: {retires: 2}}",
    "negative": "defaults: {retries: -1}",
    "zero epochs": "jobs: {a: {epochs: 0}}",
    "string epochs": "jobs: {a: {epochs: ten}}",
    "bad priority": "jobs: {a: {priority: urgent}}",
    "bad gate": "jobs: {a: {gates: {accuracy: at least 0.9}}}",
    "bad flag name": "jobs: {a: {flag_names: {epoch: --n}}}",
    "script and command": "jobs: {a: {script: tools/train.py, command: ls}}",
    "top level": "job: {}",
    "zero timeout": "jobs: {a: {timeout: 0}}",
    "bool env mapping": "jobs: {a: {env: [A, B]}}",
    "retry_on typo": "defaults: {retry_on: [failed, timeout]}",
    "script in defaults": "defaults: {script: tools/train.py}",
}


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads(PUBLISHED.read_text())
    assert published == config_schema(), "regenerate: run-all-training config-schema > " + str(
        PUBLISHED.relative_to(REPO)
    )


def check_both(tmp_path: Path, text: str) -> tuple[bool, bool]:
    """(validator accepts, schema accepts) for one config text."""
    (tmp_path / "tools").mkdir(exist_ok=True)
    (tmp_path / "tools/train.py").write_text("print('hi')\n")
    path = tmp_path / "jobs.yaml"
    path.write_text(textwrap.dedent(text))
    try:
        load_configs([path], tmp_path)
        validator_ok = True
    except ConfigError:
        validator_ok = False
    try:
        jsonschema.validate(yaml.safe_load(path.read_text()), config_schema())
        schema_ok = True
    except jsonschema.ValidationError:
        schema_ok = False
    return validator_ok, schema_ok


@pytest.mark.parametrize("name", GOOD)
def test_both_accept_good_files(tmp_path: Path, name: str) -> None:
    assert check_both(tmp_path, GOOD[name]) == (True, True)


@pytest.mark.parametrize("name", BAD)
def test_both_reject_bad_files(tmp_path: Path, name: str) -> None:
    assert check_both(tmp_path, BAD[name]) == (False, False)


def test_bundled_configs_validate_against_the_schema() -> None:
    for path in sorted((REPO / "configs").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../orchestrator/schemas/config.schema.json"
        jsonschema.validate(yaml.safe_load(path.read_text()) or {}, config_schema())


def test_readme_documents_every_key_as_the_validator_knows_it() -> None:
    assert config_reference() in (REPO / "README.md").read_text()
