"""Swap a trained identity's face into a plate: `python swap.py checkpoint=... identity=... input=... output=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.swap.model import CheckpointError
from fusion.swap.pipeline import swap


@hydra.main(version_base="1.3", config_path="conf", config_name="swap")
def main(cfg: DictConfig) -> None:
    try:
        report = swap(cfg.input, cfg.output, cfg.checkpoint, cfg.identity, blend=cfg.blend, batch_size=cfg.batch_size,
                      write_matte=cfg.write_matte, landmarks=cfg.landmarks, jitter=cfg.jitter,
                      smooth_window=cfg.smooth_window)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print(f"swap failed: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{report.frames} frames, {report.swapped} swapped, no face in {len(report.no_face)}: {report.no_face[:20]}")


if __name__ == "__main__":
    main()
