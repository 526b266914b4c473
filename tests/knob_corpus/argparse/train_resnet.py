"""A ResNet trainer with `--max_epochs` and `--checkpoint_dir`, defined in a function."""

import argparse


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="path to the ImageNet folder")
    p.add_argument("--max_epochs", default=90, type=int, metavar="N", help="total epochs to run")
    p.add_argument("--checkpoint_dir", default="./checkpoints", type=str, help="where to save checkpoints")
    p.add_argument("--start_epoch", default=0, type=int, metavar="N", help="manual epoch number (useful on restarts)")
    return p.parse_args()


if __name__ == "__main__":
    args = get_args()
    print(args.max_epochs, args.checkpoint_dir, args.start_epoch)
