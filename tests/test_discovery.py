"""Discovery: which scripts are found, their ids, and the flags read from their source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import GOOD_SCRIPT, write

from orchestrator.discovery import declared_flags, discover, inspect_script


def flags_of(source: str) -> tuple[str, ...]:
    return declared_flags(ast.parse(source))


def test_argparse_flags_in_declaration_order() -> None:
    source = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("-o", "--output_dir")
p.add_argument("--epochs", type=int)
group = p.add_argument_group("x")
group.add_argument("--learning-rate", "--lr", type=float)
p.add_argument("positional")
"""
    assert flags_of(source) == ("--output_dir", "--epochs", "--learning-rate", "--lr")


def test_click_options_including_boolean_pairs() -> None:
    source = """
import click
@click.command()
@click.option("--output-dir", type=click.Path())
@click.option("--folds", default=3)
@click.option("--shuffle/--no-shuffle", default=True)
@click.argument("data")
def main(output_dir, folds, shuffle, data): ...
"""
    assert flags_of(source) == ("--output-dir", "--folds", "--shuffle", "--no-shuffle")


def test_typer_option_and_from_import_style() -> None:
    source = """
from typer import Option
from argparse import ArgumentParser
def main(seed: int = Option(0, "--seed")): ...
parser = ArgumentParser()
add = parser.add_argument
parser.add_argument("--epochs")
"""
    assert flags_of(source) == ("--seed", "--epochs")


def test_computed_flag_names_are_not_guessed() -> None:
    source = """
import argparse
p = argparse.ArgumentParser()
name = "--epochs"
p.add_argument(name)
p.add_argument("--" + "folds")
"""
    assert flags_of(source) == ()


#: Sources whose flags a walk of only the statements naming a flag call could miss, with
#: the flags they declare.
READ_AS_A_WHOLE = {
    "decorators above the def": (
        """
import click
@click.command()

@click.option("--epochs")
def main(epochs): ...
""",
        ("--epochs",),
    ),
    "a call in a nested def": (
        """
class Cli:
    def parser(self):
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument(
            "--seed",
        )
        return p
""",
        ("--seed",),
    ),
    "names only in a comment and a string": (
        """
# add_argument("--not-a-flag")
HELP = "option('--neither')"
""",
        (),
    ),
    "CRLF line ends": (
        'import argparse\r\np = argparse.ArgumentParser()\r\n\r\np.add_argument("--folds")\r\n',
        ("--folds",),
    ),
    "lone CR line ends": (
        'import argparse\rp = argparse.ArgumentParser()\r\rp.add_argument("--folds")\r',
        ("--folds",),
    ),
    "a name the parser folds to NFKC": (
        'import argparse\np = argparse.ArgumentParser()\nx = 1\np.\uff41dd_argument("--seed")\n',
        ("--seed",),
    ),
}


@pytest.mark.parametrize(("source", "flags"), READ_AS_A_WHOLE.values(), ids=READ_AS_A_WHOLE.keys())
def test_a_script_file_declares_the_flags_of_its_whole_tree(
    tmp_path: Path, source: str, flags: tuple[str, ...]
) -> None:
    """Discovery walks only the statements naming a flag call: it finds what a full walk does."""
    path = tmp_path / "train_x.py"
    path.write_bytes(source.encode())
    script = inspect_script(path, "x", "train_x.py")
    assert script.error is None
    assert script.flags == flags == declared_flags(ast.parse(source.encode()))


def test_finds_scripts_and_skips_noise_dirs(tmp_path: Path) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    write(tmp_path / "training/sub/train_b.py", GOOD_SCRIPT)
    write(tmp_path / "training/helper.py", "x = 1")
    for noise in (".git", ".hidden", "node_modules", "__pycache__", "lib/site-packages"):
        write(tmp_path / "training" / noise / "train_noise.py", GOOD_SCRIPT)
    write(tmp_path / "training/myenv/pyvenv.cfg", "home = /usr/bin")
    write(tmp_path / "training/myenv/train_venv.py", GOOD_SCRIPT)
    scripts, warnings = discover(["training", "missing_root"], tmp_path)
    assert [(s.job_id, s.path) for s in scripts] == [
        ("b", "training/sub/train_b.py"),
        ("a", "training/train_a.py"),
    ]
    assert scripts[1].flags == ("--output-dir", "--epochs", "--folds", "--seed")
    assert warnings == []


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    write(tmp_path / "training/train_a.py", GOOD_SCRIPT)
    (tmp_path / "training/loop").symlink_to(tmp_path / "training")
    scripts, _ = discover(["training"], tmp_path)
    assert [s.job_id for s in scripts] == ["a"]


def test_duplicate_ids_are_both_kept_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "training/train_prep.py", GOOD_SCRIPT)
    write(tmp_path / "scripts/etl/train_prep.py", GOOD_SCRIPT)
    scripts, warnings = discover(["training", "scripts"], tmp_path)
    assert [s.job_id for s in scripts] == ["prep", "prep@scripts.etl"]
    assert warnings == [
        "job id 'prep' is used by training/train_prep.py and scripts/etl/train_prep.py; "
        "the second runs as 'prep@scripts.etl'"
    ]


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "training/train_broken.py", "import os\n\ndef f(:\n    pass\n")
    (script,), _ = discover(["training"], tmp_path)
    assert script.error is not None
    assert script.error.startswith("syntax error, line 3:")
    assert script.flags == ()
