"""Names that are probably the knobs, but not certainly: shown, passed only on `knobs: likely`."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--epoch", type=int, default=100)
parser.add_argument("--log_dir", default="logs")
parser.add_argument("--lr", type=float, default=0.01)
args = parser.parse_args()
for e in range(args.epoch):
    print(e, args.log_dir)
