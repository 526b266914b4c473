"""A custom loop configured through HfArgumentParser over the script's own dataclass."""

from dataclasses import dataclass, field

import torch
from transformers import AutoModel, HfArgumentParser


@dataclass
class TrainConfig:
    model_name: str = field(default="bert-base-uncased")
    num_epochs: int = field(default=3, metadata={"help": "Total number of training epochs"})
    start_epoch: int = field(default=0, metadata={"help": "Epoch to resume counting from"})
    save_dir: str = field(default="checkpoints", metadata={"help": "Where checkpoints are written"})
    learning_rate: float = 5e-5


def train(cfg: TrainConfig) -> None:
    model = AutoModel.from_pretrained(cfg.model_name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    for epoch in range(cfg.start_epoch, cfg.num_epochs):
        optimizer.step()
    model.save_pretrained(cfg.save_dir)


if __name__ == "__main__":
    (config,) = HfArgumentParser(TrainConfig).parse_args_into_dataclasses()
    train(config)
