"""A GAN: `--n_epochs`, `--save_dir`, `--manualSeed`."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=200, help="number of epochs of training")
parser.add_argument("--save_dir", default="saved_models", help="where generator and discriminator are saved")
parser.add_argument("--manualSeed", type=int, help="manual seed")
parser.add_argument("--lr", type=float, default=0.0002, help="adam: learning rate")
opt = parser.parse_args()
print(opt)
