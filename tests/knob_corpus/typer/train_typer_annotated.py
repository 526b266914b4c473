"""typer.run with Annotated parameters."""

from typing import Annotated

import typer


def main(
    dataset: Annotated[str, typer.Argument(help="Dataset name")],
    max_epochs: Annotated[int, typer.Option(help="Epochs to train for")] = 50,
    checkpoint_dir: Annotated[str, typer.Option(help="Directory for checkpoints")] = "ckpt",
):
    print(dataset, max_epochs, checkpoint_dir)


if __name__ == "__main__":
    typer.run(main)
