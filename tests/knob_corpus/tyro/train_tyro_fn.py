"""tyro over a function."""

import tyro


def main(dataset: str = "mnist", num_epochs: int = 3, save_dir: str = "ckpt", rng_seed: int = 7):
    """Train a classifier.

    Args:
        dataset: Which dataset to train on.
        num_epochs: Number of epochs.
        save_dir: Directory to save checkpoints to.
        rng_seed: Random seed.
    """
    print(dataset, num_epochs, save_dir, rng_seed)


if __name__ == "__main__":
    tyro.cli(main)
