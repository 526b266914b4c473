"""jsonargparse.CLI over a function: parameters with defaults are `--name` options."""

from jsonargparse import CLI


def fit(data_dir: str, max_epochs: int = 10, output_dir: str = "out", random_seed: int = 1):
    """Fit the model.

    Args:
        data_dir: Directory with the training data.
        max_epochs: Maximum number of epochs.
        output_dir: Where results are written.
        random_seed: Seed for the random number generators.
    """
    print(data_dir, max_epochs, output_dir, random_seed)


if __name__ == "__main__":
    CLI(fit)
