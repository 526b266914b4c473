"""A Hydra app whose config has no epoch count (only an eval period) and no seed."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path=".", config_name="evals")
def main(cfg: DictConfig) -> None:
    print(cfg.eval.epochs_per_eval)


if __name__ == "__main__":
    main()
