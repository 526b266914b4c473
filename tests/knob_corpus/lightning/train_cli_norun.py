"""LightningCLI with run=False: no subcommand; the script calls fit itself."""

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.demos.boring_classes import BoringDataModule, DemoModel

if __name__ == "__main__":
    cli = LightningCLI(DemoModel, BoringDataModule, run=False, seed_everything_default=1234)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
