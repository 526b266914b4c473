"""OmegaConf: a YAML file merged with `key=value` pairs from the command line."""

from pathlib import Path

from omegaconf import OmegaConf

import model_lib


def main() -> None:
    base = OmegaConf.load(Path(__file__).parent / "config.yaml")
    cfg = OmegaConf.merge(base, OmegaConf.from_cli())
    model = model_lib.build(cfg.model)
    for _ in range(cfg.training.num_epochs):
        model.step()
    model.save(Path(cfg.output_dir) / "model.pt")


if __name__ == "__main__":
    main()
