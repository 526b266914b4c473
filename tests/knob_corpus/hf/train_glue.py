"""Fine-tune a sequence classifier on GLUE, in the style of transformers' run_glue.py."""

import logging
import sys
from dataclasses import dataclass, field
from typing import Optional

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)

logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={"help": "Path to a pretrained model or its hub id"})
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Where to cache models"})


@dataclass
class DataTrainingArguments:
    task_name: str = field(default="mrpc", metadata={"help": "The GLUE task to train on"})
    max_seq_length: int = field(default=128)


def main():
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(json_file=sys.argv[1])
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses()
    set_seed(training_args.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_args.model_name_or_path)
    trainer = Trainer(model=model, args=training_args, tokenizer=tokenizer)
    trainer.train()
    trainer.save_model()


if __name__ == "__main__":
    main()
