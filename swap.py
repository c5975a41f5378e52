"""Swap a trained identity's face into a plate: `python swap.py checkpoint=... identity=... input=... output=...`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.command_line import command_line
from fusion.config.schemas import SwapConfig
from fusion.errors import UserError
from fusion.instantiate import to_schema
from fusion.swap.pipeline import preview_path, swap

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
    print(f"{report.frames} frames, {report.swapped} swapped, no face in {len(report.no_face)}: {report.no_face[:20]}")
    total = sum(report.seconds.values())
    shares = ", ".join(f"{stage} {seconds / total:.0%}" for stage, seconds in report.seconds.items())
    print(f"{report.frames_per_second:.1f} frames/s ({shares})")
    print(f"wrote {options.output}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    if options.preview:
        print(f"side by side: {preview_path(Path(cfg.output))}")
    print(f"to score the model on held-out frames: {command_line('evaluate.py', {'checkpoint': options.checkpoint})}")


if __name__ == "__main__":
    main()
