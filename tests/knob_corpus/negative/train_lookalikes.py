"""Flags that look like the knobs and are not: none may receive --epochs or the output dir."""

import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--start_epoch", type=int, default=0, help="epoch to resume from")
parser.add_argument("--epochs_per_eval", type=int, default=5, help="evaluate every this many epochs")
parser.add_argument("--inner_epochs", type=int, default=1, help="inner-loop epochs per meta step")
parser.add_argument("--output", default="predictions.csv", help="file the predictions are written to")
parser.add_argument("--data_dir", default="data/", help="directory with the training images")
parser.add_argument("--seed_data", default="seeds.txt", help="file of seed words")
args = parser.parse_args()
with open(args.output, "w") as fh:
    json.dump({"start": args.start_epoch}, fh)
