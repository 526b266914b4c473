"""A VAE trained with plain argparse under its own names."""

import argparse
import os

import torch

parser = argparse.ArgumentParser(description="VAE on MNIST")
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--num_epochs", type=int, default=10, help="number of epochs to train")
parser.add_argument("--out_dir", type=str, default="results", help="directory for samples and checkpoints")
parser.add_argument("--random_seed", type=int, default=1, help="random seed")
args = parser.parse_args()

torch.manual_seed(args.random_seed)
os.makedirs(args.out_dir, exist_ok=True)
for epoch in range(1, args.num_epochs + 1):
    torch.save({}, os.path.join(args.out_dir, f"vae_{epoch}.pt"))
