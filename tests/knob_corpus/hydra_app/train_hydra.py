"""A Hydra app composed from conf/config.yaml and its defaults list."""

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    L.seed_everything(cfg.seed)
    model = instantiate(cfg.model)
    trainer = L.Trainer(**cfg.trainer)
    trainer.fit(model)


if __name__ == "__main__":
    main()
