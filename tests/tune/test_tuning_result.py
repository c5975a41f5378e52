"""What a shot tuning reports (fast: the tuning itself is tested in test_shot_tuning.py, marked slow)."""

from pathlib import Path

import pytest

from fusion.errors import ConfigError
from fusion.tune.options import ShotTuningOptions
from fusion.tune.shot import ShotTuningResult


def test_the_closing_lines_give_the_ssim_before_and_after_and_the_swap_through_the_tuning():
    result = ShotTuningResult(Path("run/last.tuned-plate.pt"), frames_tuned=40, frames_held_out=10,
                              ssim_before=0.61234, ssim_after=0.70049)
    assert result.summary("astronaut", "run/last.ckpt", "plate.mov") == [
        "astronaut's held-out frames of the shot (10; tuned on 40): masked SSIM 0.612 -> 0.700",
        "tuned encoder: run/last.tuned-plate.pt",
        "swap with it: python swap.py checkpoint=run/last.ckpt input=plate.mov tuning=run/last.tuned-plate.pt "
        "identity=<whose face> output=<file>"]


def test_a_colorspace_the_config_lacks_is_refused_before_tuning():
    with pytest.raises(ConfigError, match=r"colorspace=ACEScgg: .* close names: ACEScg"):
        ShotTuningOptions(colorspace="ACEScgg")
