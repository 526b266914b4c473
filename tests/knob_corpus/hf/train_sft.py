"""Supervised fine-tuning with TRL: its SFTConfig is a TrainingArguments subclass."""

from dataclasses import dataclass, field

from datasets import load_dataset
from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser


@dataclass
class ScriptArguments:
    dataset_name: str = field(default="trl-lib/Capybara", metadata={"help": "Hub dataset"})
    dataset_train_split: str = "train"


def main(script_args, training_args, model_args):
    dataset = load_dataset(script_args.dataset_name)
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
    )
    trainer.train()
    trainer.save_model(training_args.output_dir)


if __name__ == "__main__":
    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig))
    script_args, training_args, model_args = parser.parse_args_and_config()
    main(script_args, training_args, model_args)
