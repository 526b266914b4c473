"""A SageMaker-style script: the output dir comes from $SM_MODEL_DIR, epochs from a flag."""

import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR", "model"))
parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAINING"))
args, _ = parser.parse_known_args()
print(args.epochs, args.model_dir)
