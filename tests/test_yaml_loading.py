"""What YAML itself can do to a config file: merge keys, aliases, and plain scalars that
are not text. Each is either read right or refused with `file:line:col: key`, exit 2."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import Project

from orchestrator.config import ALIAS_BUDGET, load_configs
from orchestrator.errors import ConfigError


def load(tmp_path: Path, text: str) -> dict[str, dict[str, object]]:
    path = tmp_path / "configs/jobs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return {job_id: dict(job.fields) for job_id, job in load_configs([path], tmp_path).jobs.items()}


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


# ------------------------------------------------------------------------- merge keys
def test_a_merge_key_brings_in_fields_that_the_job_overrides(tmp_path: Path) -> None:
    jobs = load(
        tmp_path,
        """
        x-base: &base
          command: [echo]
          epochs: 2
          retries: 1
        jobs:
          a:
            <<: *base
            epochs: 3
          b: *base
        """,
    )
    assert jobs["a"] == {"command": ("echo",), "epochs": 3, "retries": 1}
    assert jobs["b"] == {"command": ("echo",), "epochs": 2, "retries": 1}


def test_of_several_merged_mappings_the_first_wins(tmp_path: Path) -> None:
    """YAML's merge key: "keys in mapping nodes earlier in the sequence override keys
    specified in later mapping nodes" (PyYAML 6.0.3+ lets the later one win)."""
    jobs = load(
        tmp_path,
        """
        x-fast: &fast {retries: 1, timeout: 5}
        x-slow: &slow {retries: 3, timeout: 500, grace: 2}
        x-nested: &nested
          <<: *slow
          epochs: 4
        jobs:
          a:
            <<: [*fast, *slow]
            command: [echo]
          b:
            <<: [*nested, *fast]
            command: [echo]
        """,
    )
    assert jobs["a"] == {"retries": 1, "timeout": 5.0, "grace": 2.0, "command": ("echo",)}
    assert jobs["b"] == {
        "retries": 3,
        "timeout": 500.0,
        "grace": 2.0,
        "epochs": 4,
        "command": ("echo",),
    }


def test_merged_keys_are_no_duplicates_but_written_ones_are(tmp_path: Path) -> None:
    text = """
        defaults: &d {retries: 1}
        jobs:
          a:
            <<: *d
            retries: 2
            command: [echo]
            retries: 3
        """
    assert refusal(tmp_path, text) == (
        "configs/jobs.yaml:7:5: jobs.a.retries: duplicate key (first defined on line 5)"
    )


def test_an_error_in_a_merged_block_names_the_block(tmp_path: Path) -> None:
    text = """
        x-base: &base
          retires: 1
        jobs:
          a: {<<: *base, command: [echo]}
        """
    assert refusal(tmp_path, text) == (
        "configs/jobs.yaml:2:3: jobs.a.retires: unknown key; did you mean 'retries'?"
    )


def test_merging_something_that_is_no_mapping_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, "jobs:\n  a:\n    <<: [1, 2]\n") == (
        "configs/jobs.yaml:3:5: jobs.a.<<: '<<' merges a mapping or a list of mappings (*anchors)"
    )


# --------------------------------------------------------------------- hostile aliases
LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def test_billion_laughs_under_an_unknown_key_is_refused_before_its_values(
    project: Project,
) -> None:
    """484 bytes that expand to 10⁹ strings: took minutes and gigabytes to refuse."""
    project.config("configs/jobs.yaml", LAUGHS)
    result = project.run("--list", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "error: configs/jobs.yaml:1:1: a: unknown top-level key"


def test_billion_laughs_under_known_keys_hits_the_alias_budget(project: Project) -> None:
    anchors = re.sub(r"^([a-h]):", r"x-\1:", LAUGHS, flags=re.MULTILINE)
    text = anchors.replace("\ni: &i", "\njobs:\n  j:\n    args: &i")
    project.config("configs/jobs.yaml", text + "\n")
    result = project.run("--list", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"error: configs/jobs.yaml:6:1: x-f: aliases expand this file past {ALIAS_BUDGET:,} values"
    )


def test_aliases_within_the_budget_are_fine(tmp_path: Path) -> None:
    jobs = load(
        tmp_path,
        """
        x-tags: &tags [a, b, c]
        jobs:
          one: {command: [echo], tags: *tags}
          two: {command: [echo], tags: *tags}
        """,
    )
    assert jobs["one"]["tags"] == jobs["two"]["tags"] == ("a", "b", "c")


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    """Was a RecursionError traceback."""
    assert refusal(tmp_path, "jobs:\n  a: &x\n    args: [*x]\n") == (
        "configs/jobs.yaml:3:5: jobs.a.args: a recursive alias (an anchor used inside itself)"
    )
    assert refusal(tmp_path, "jobs: &j\n  a: {<<: *j}\n") == (
        "configs/jobs.yaml:2:7: jobs.a.<<: a recursive alias (an anchor used inside itself)"
    )


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    text = "jobs:\n  a:\n    args: " + "[" * 40 + "]" * 40 + "\n"
    assert refusal(tmp_path, text) == (
        "configs/jobs.yaml:3:5: jobs.a.args: nested more than 32 levels deep"
    )


# ------------------------------------------------------------------ ids that are not text
NOT_TEXT = {
    "true": "bool",
    "yes": "bool",
    "No": "bool",
    "off": "bool",
    "null": "null",
    "~": "null",
    "1": "int",
    "0x10": "int",
    "0o17": "a number (YAML 1.2)",
    "1_000": "int",
    "1:30": "int",
    "1e3": "a number (YAML 1.2)",
    "1.5": "float",
    ".inf": "float",
    ".NaN": "float",
    "2024-01-01": "timestamp",
}


@pytest.mark.parametrize("job_id", NOT_TEXT)
def test_a_job_id_yaml_reads_as_no_text_must_be_quoted(tmp_path: Path, job_id: str) -> None:
    """Was a KeyError traceback; guessing the text back would turn `0x10` into `16`."""
    assert refusal(tmp_path, f"jobs:\n  {job_id}: {{command: [echo]}}\n") == (
        f"configs/jobs.yaml:2:3: jobs.{job_id}: YAML reads this job id as {NOT_TEXT[job_id]}, "
        f'not text; quote it: "{job_id}"'
    )


def test_y_and_n_are_text_as_pyyaml_and_yaml_1_2_read_them(tmp_path: Path) -> None:
    assert list(load(tmp_path, "jobs:\n  x: {command: [echo]}\n  y: {command: [echo]}\n")) == [
        "x",
        "y",
    ]


def test_quoted_ids_are_text(tmp_path: Path) -> None:
    text = "".join(f"  '{job_id}': {{command: [echo]}}\n" for job_id in NOT_TEXT)
    assert list(load(tmp_path, "jobs:\n" + text)) == list(NOT_TEXT)


def test_a_non_text_job_id_is_exit_2_from_the_cli(project: Project) -> None:
    project.config("configs/jobs.yaml", "jobs:\n  yes: {command: [echo]}\n")
    result = project.run("--list")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:2:3: jobs.yes: YAML reads this job id as bool, not text; "
        'quote it: "yes"'
    )


def test_an_unbalanced_quote_in_args_is_a_config_error(project: Project) -> None:
    """As in `command:`; was a ValueError traceback."""
    project.config("configs/jobs.yaml", 'jobs:\n  a:\n    command: [echo]\n    args: "x \'y"\n')
    result = project.run("--dry-run")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: configs/jobs.yaml:4:5: jobs.a.args: cannot split args: No closing quotation"
    )


def test_merge_keys_reach_the_plan(project: Project) -> None:
    project.config(
        "configs/jobs.yaml",
        """
        x-base: &base {command: [echo, hi], retries: 2, timeout: 9}
        jobs:
          a: {<<: *base, retries: 0}
        """,
    )
    result = project.run("--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    (job,) = json.loads(result.stdout)["jobs"]
    assert (job["argv"], job["retries"]) == (["echo", "hi"], 0)
