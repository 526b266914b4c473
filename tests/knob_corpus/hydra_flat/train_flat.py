"""A Hydra app with one flat config file, named without its extension."""

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(config_path="configs", config_name="train.yaml", version_base=None)
def run(cfg: DictConfig) -> float:
    print(OmegaConf.to_yaml(cfg))
    for epoch in range(cfg.optim.epochs):
        pass
    return 0.0


if __name__ == "__main__":
    run()
