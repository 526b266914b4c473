"""fire over a function whose epoch-like and dir-like parameters are not the knobs."""

from fire import Fire


def evaluate_checkpoints(input_dir="checkpoints", start_epoch=0, eval_every_epochs=5):
    """Score the checkpoints found in input_dir, from start_epoch on."""
    for epoch in range(start_epoch, 100, eval_every_epochs):
        print(f"{input_dir}/epoch_{epoch}.pt")


if __name__ == "__main__":
    Fire(evaluate_checkpoints)
