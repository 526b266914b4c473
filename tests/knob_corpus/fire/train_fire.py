"""fire.Fire over one function: its parameters are the flags (`--num_epochs 3`)."""

import fire
import torch


def train(data_path, num_epochs=10, out_dir="runs/fire", seed=0, lr=3e-4):
    torch.manual_seed(seed)
    model = torch.nn.Linear(8, 1)
    for _ in range(num_epochs):
        pass
    torch.save(model.state_dict(), f"{out_dir}/model.pt")


if __name__ == "__main__":
    fire.Fire(train)
