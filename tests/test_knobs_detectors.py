"""Each knob detector on small sources, as values: what it maps, how sure it is, and what
it refuses (look-alikes), without importing or running anything."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from orchestrator.discovery import flag_calls
from orchestrator.knobs import detect
from orchestrator.plan import override_value


def knobs(source: str, directory: Path = Path()) -> dict[str, tuple[str, str, str]]:
    """knob → (spelling, style, confidence)."""
    text = textwrap.dedent(source).lstrip().encode()
    tree = ast.parse(text)
    found = detect(tree, text, directory, flag_calls(tree, text))
    return {k.name: (k.spelling, k.style, k.confidence) for k in found.knobs}


def notes(source: str) -> dict[str, str]:
    text = textwrap.dedent(source).lstrip().encode()
    tree = ast.parse(text)
    return dict(detect(tree, text, Path(), flag_calls(tree, text)).notes)


def test_hf_training_arguments_bring_their_three_flags() -> None:
    assert knobs(
        """
        from transformers import HfArgumentParser, Seq2SeqTrainingArguments as Args
        (args,) = HfArgumentParser(Args).parse_args_into_dataclasses()
        """
    ) == {
        "output_dir": ("--output_dir", "flag", "certain"),
        "epochs": ("--num_train_epochs", "flag", "certain"),
        "seed": ("--seed", "flag", "certain"),
    }


def test_hf_reading_only_a_json_file_takes_no_flags() -> None:
    source = """
        from transformers import HfArgumentParser, TrainingArguments
        (args,) = HfArgumentParser(TrainingArguments).parse_json_file("args.json")
        """
    assert knobs(source) == {}
    assert notes(source)["epochs"] == "HfArgumentParser reads a file, not the command line"


def test_hf_a_scripts_own_subclass_of_training_arguments_inherits_them() -> None:
    found = knobs(
        """
        from dataclasses import dataclass
        from transformers import HfArgumentParser, TrainingArguments

        @dataclass
        class MyArgs(TrainingArguments):
            warmup_epochs: int = 1

        HfArgumentParser(MyArgs).parse_args_into_dataclasses()
        """
    )
    assert found["epochs"] == ("--num_train_epochs", "flag", "certain")


def test_lightning_cli_needs_fit_unless_run_is_false() -> None:
    source = "from lightning.pytorch.cli import LightningCLI\nLightningCLI(M{})\n"
    text = source.format("").encode()
    tree = ast.parse(text)
    assert detect(tree, text, Path(), []).prefix == ("fit",)
    text = source.format(", run=False").encode()
    assert detect(ast.parse(text), text, Path(), []).prefix == ()


def test_lightning_cli_given_its_args_reads_no_command_line() -> None:
    source = "from lightning.pytorch.cli import LightningCLI\nLightningCLI(M, args=['fit'])\n"
    assert knobs(source) == {}


def test_hydra_composes_the_defaults_list(tmp_path: Path) -> None:
    (tmp_path / "conf/trainer").mkdir(parents=True)
    (tmp_path / "conf/config.yaml").write_text("defaults:\n  - trainer: gpu\n  - _self_\nseed: 1\n")
    (tmp_path / "conf/trainer/gpu.yaml").write_text("max_epochs: 5\nwarmup_epochs: 1\n")
    source = """
        import hydra
        @hydra.main(config_path="conf", config_name="config", version_base=None)
        def main(cfg): ...
        """
    assert knobs(source, tmp_path) == {
        "output_dir": ("hydra.run.dir", "override", "certain"),
        "epochs": ("trainer.max_epochs", "override", "certain"),
        "seed": ("seed", "override", "certain"),
    }


def test_hydra_two_epoch_keys_make_it_likely(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("model: {epochs: 3}\ntrain: {num_epochs: 9}\n")
    source = """
        from hydra import main
        @main(config_path=".", config_name="c")
        def run(cfg): ...
        """
    assert knobs(source, tmp_path)["epochs"] == ("model.epochs", "override", "likely")


def test_hydra_without_its_config_on_disk_still_has_its_run_dir(tmp_path: Path) -> None:
    source = """
        import hydra
        @hydra.main(config_path="missing", config_name="config")
        def main(cfg): ...
        """
    assert knobs(source, tmp_path) == {"output_dir": ("hydra.run.dir", "override", "certain")}


def test_omegaconf_from_cli_sets_keys_of_the_loaded_file(tmp_path: Path) -> None:
    (tmp_path / "cfg.yml").write_text("train:\n  n_epochs: 4\n  out_dir: runs\n")
    source = """
        from omegaconf import OmegaConf
        cfg = OmegaConf.merge(OmegaConf.load("cfg.yml"), OmegaConf.from_cli())
        """
    assert knobs(source, tmp_path) == {
        "output_dir": ("train.out_dir", "override", "certain"),
        "epochs": ("train.n_epochs", "override", "certain"),
    }


def test_fire_parameters_and_look_alikes() -> None:
    assert knobs(
        """
        import fire
        def main(start_epoch=0, max_epochs=10, out_dir="o", manual_seed=1): ...
        fire.Fire(main)
        """
    ) == {
        "output_dir": ("--out_dir", "flag", "certain"),
        "epochs": ("--max_epochs", "flag", "certain"),
        "seed": ("--manual_seed", "flag", "certain"),
    }


def test_fire_over_a_class_maps_nothing() -> None:
    assert (
        knobs("import fire\nclass T:\n    def __init__(self, epochs=1): ...\nfire.Fire(T)\n") == {}
    )


def test_typer_options_are_dashed_and_arguments_skipped() -> None:
    assert knobs(
        """
        import typer
        def main(num_epochs: int, save_dir: str = typer.Option("o", "--save"), seed: int = 0): ...
        typer.run(main)
        """
    ) == {"output_dir": ("--save", "flag", "certain"), "seed": ("--seed", "flag", "certain")}


def test_typer_app_with_several_commands_needs_a_prefix() -> None:
    source = """
        import typer
        app = typer.Typer()
        @app.command()
        def train(epochs: int = 1): ...
        @app.command()
        def evaluate(epochs: int = 1): ...
        """
    assert knobs(source) == {}
    assert "2 commands" in notes(source)["epochs"]


def test_tyro_dataclass_fields_with_attribute_docstrings() -> None:
    assert knobs(
        """
        from dataclasses import dataclass
        import tyro
        @dataclass
        class Cfg:
            epoch: int = 5
            \"\"\"Number of epochs to train.\"\"\"
            log_dir: str = "logs"
        tyro.cli(Cfg)
        """
    ) == {"epochs": ("--epoch", "flag", "certain"), "output_dir": ("--log-dir", "flag", "likely")}


def test_absl_flags_and_an_ml_collections_config_file(tmp_path: Path) -> None:
    (tmp_path / "cfg.py").write_text(
        "import ml_collections\ndef get_config():\n    c = ml_collections.ConfigDict()\n"
        "    c.training = ml_collections.ConfigDict()\n"
        "    c.training.num_epochs = 3\n    return c\n"
    )
    source = """
        from absl import flags
        from ml_collections import config_flags
        flags.DEFINE_string("output_dir", None, "Where to write checkpoints.")
        flags.DEFINE_integer("start_epoch", 0, "Epoch to resume from.")
        config_flags.DEFINE_config_file("cfg", "cfg.py")
        """
    assert knobs(source, tmp_path) == {
        "output_dir": ("--output_dir", "flag", "certain"),  # absl's, not a literal argparse flag
        "epochs": ("--cfg.training.num_epochs", "flag", "certain"),
    }


def test_jsonargparse_parameters_without_default_are_positional() -> None:
    assert knobs(
        """
        from jsonargparse import CLI
        def fit(max_epochs: int, out_dir: str = "o"): ...
        CLI(fit)
        """
    ) == {"output_dir": ("--out_dir", "flag", "certain")}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('"--n_epochs", type=int, default=5', ("epochs", ("--n_epochs", "flag", "certain"))),
        (
            '"--epoch", type=int, help="number of epochs"',
            ("epochs", ("--epoch", "flag", "certain")),
        ),
        ('"--epoch", type=int, default=3', ("epochs", ("--epoch", "flag", "likely"))),
        ('"--n_epochs", help="epochs between evaluations"', None),
        ('"--num_epochs", default="auto"', None),
        ('"--checkpoint_dir", help="checkpoint to resume from"', None),
        ('"--out_dir", default="out/preds.csv"', None),
        ('"--output", help="output directory"', ("output_dir", ("--output", "flag", "certain"))),
        ('"--output", help="output file"', None),
        ('"--save_dir", type=int', None),
        ('"--random_seed", type=str', None),
        ('"--start_epoch", type=int', None),
    ],
)
def test_argparse_synonyms_are_judged_by_help_default_and_type(
    call: str, expected: tuple[str, tuple[str, str, str]] | None
) -> None:
    found = knobs(f"import argparse\np = argparse.ArgumentParser()\np.add_argument({call})\n")
    assert found == (dict([expected]) if expected else {})


def test_a_start_index_is_not_an_epoch_count() -> None:
    source = """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--epoch", type=int, default=0)
        args = p.parse_args()
        for e in range(args.epoch, 100): ...
        """
    assert knobs(source) == {}
    assert "range" in notes(source)["epochs"]


def test_click_path_types_tell_a_dir_from_a_file() -> None:
    option = '@click.option("--output-path", type=click.Path({}))\ndef f(output_path): ...\n'
    assert knobs("import click\n" + option.format("file_okay=False")) == {
        "output_dir": ("--output-path", "flag", "certain")
    }
    assert knobs("import click\n" + option.format("dir_okay=False")) == {}


def test_env_variables_read_by_name() -> None:
    assert knobs('import os\nout = os.environ["SM_MODEL_DIR"]\nseed = os.getenv("SEED")\n') == {
        "output_dir": ("SM_MODEL_DIR", "env", "certain"),
        "seed": ("SEED", "env", "certain"),
    }
    assert knobs('import os\nout = os.environ["TRAIN_ORCH_OUTPUT_DIR"]\n') == {}


def test_a_library_mapping_wins_over_a_synonym() -> None:
    found = knobs(
        """
        import argparse
        from transformers import HfArgumentParser, TrainingArguments
        p = argparse.ArgumentParser()
        p.add_argument("--log_dir")
        HfArgumentParser(TrainingArguments).parse_args_into_dataclasses()
        """
    )
    assert found["output_dir"] == ("--output_dir", "flag", "certain")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("results/a_results", "results/a_results"),
        ("my runs/a", "'my runs/a'"),
        ("it's", "'it\\'s'"),
        ("a=b", "'a=b'"),
    ],
)
def test_override_values_are_quoted_when_hydra_would_misread_them(value: str, shown: str) -> None:
    assert override_value(value) == shown
