"""click options under other names."""

import click


@click.command()
@click.option("--nb-epochs", default=30, show_default=True, help="Number of epochs to train.")
@click.option("--output-path", type=click.Path(file_okay=False), default="out", help="Output directory.")
@click.option("--seed-value", type=int, default=0)
def train(nb_epochs, output_path, seed_value):
    click.echo(f"{nb_epochs} {output_path} {seed_value}")


if __name__ == "__main__":
    train()
