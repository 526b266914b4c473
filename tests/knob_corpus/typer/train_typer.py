"""A typer app with one command: parameters with defaults are options, dashed."""

from pathlib import Path

import typer

app = typer.Typer()


@app.command()
def main(
    data: Path,
    n_epochs: int = typer.Option(5, help="Number of training epochs"),
    output_dir: Path = typer.Option(Path("out"), help="Where the model is saved"),
    seed: int = 0,
):
    output_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(n_epochs):
        pass


if __name__ == "__main__":
    app()
