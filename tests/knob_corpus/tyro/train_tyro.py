"""tyro over a dataclass: fields become dashed flags, nested ones dotted."""

import dataclasses
from pathlib import Path

import tyro


@dataclasses.dataclass
class OptimizerConfig:
    lr: float = 3e-4
    weight_decay: float = 0.01


@dataclasses.dataclass
class TrainConfig:
    """Train a small transformer."""

    epochs: int = 10
    """Number of passes over the data."""
    output_dir: Path = Path("outputs")
    seed: int = 0
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)


def main(config: TrainConfig) -> None:
    config.output_dir.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    main(tyro.cli(TrainConfig))
