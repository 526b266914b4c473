"""An `--epoch` that is a start index and a `--save_dir` that is read from."""

import argparse

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--epoch", type=int, default=0, help="epoch to start training from")
parser.add_argument("--save_dir", default="pretrained", help="directory to load the pretrained checkpoint from")
parser.add_argument("--output_file", default="out.json", help="JSON file with the results")
parser.add_argument("--warmup_epochs", type=int, default=3)
args = parser.parse_args()
state = torch.load(f"{args.save_dir}/model.pt")
