"""Footage to aligned face caches: `python prepare.py footage=... cache=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.data.prepare_command import run_prepare

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="prepare")
def main(cfg: DictConfig) -> None:
    """Compose the prepare config and prepare; the exit code says whether faces were cached."""
    sys.exit(run_prepare(cfg))


if __name__ == "__main__":
    main()
