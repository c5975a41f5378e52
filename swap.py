"""Swap a trained identity's face into a plate: `python swap.py checkpoint=... identity=... input=... output=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import SwapConfig
from fusion.errors import UserError
from fusion.instantiate import to_schema
from fusion.swap.pipeline import swap
from fusion.swap.summary import swap_summary

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="swap")
def main(cfg: DictConfig) -> None:
    """Compose the swap config and swap; a UserError is one line and exit 2."""
    try:
        options = to_schema(cfg, SwapConfig)  # the SwapOptions plus what to swap into what
        report = swap(options.input, options.output, options.checkpoint, options.identity, options)
    except (UserError, FileNotFoundError) as error:
        print(f"swap failed: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(swap_summary(report, options.output, options.checkpoint, options.preview)))


if __name__ == "__main__":
    main()
