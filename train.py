"""Train FusionNet through its curriculum: `python train.py [overrides]`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.errors import UserError
from fusion.instantiate import refuse_unknown_keys
from fusion.training.preemption import RunStopped
from fusion.training.run import train

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="train")
def main(cfg: DictConfig) -> None:
    """Compose the train config and run the curriculum; a UserError is one line and exit 2,
    a stop on a signal (after its save) one line and exit 1."""
    try:
        refuse_unknown_keys(cfg)  # a mistyped +key, before any work
        result = train(cfg)
    except (UserError, FileNotFoundError) as error:
        print(f"train failed: {error}", file=sys.stderr)
        sys.exit(2)
    except RunStopped as stop:
        print(f"train {stop}", file=sys.stderr)
        sys.exit(1)
    print("\n".join(result.summary()))


if __name__ == "__main__":
    main()
