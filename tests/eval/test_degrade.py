"""Plates degraded on purpose for evaluate: the grade, blur and JPEG quality asked for are the ones measured."""

import numpy as np
import pytest
import torch

from fusion.errors import ConfigError
from fusion.eval.degrade import degrade
from fusion.io.image import decode
from fusion.swap.blur import blur_sigma
from fusion.swap.compression import jpeg_quality


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    import skimage.data

    return torch.from_numpy(skimage.data.astronaut()[:256, 128:384].copy()).permute(2, 0, 1)[None].float() / 255


def test_the_degradation_asked_for_is_the_one_measured(crops):
    everywhere = np.ones((256, 256), np.float32)
    sharp = blur_sigma(crops[0].permute(1, 2, 0).numpy(), everywhere)
    soft = degrade(crops, blur=2.0)[0].permute(1, 2, 0).numpy()
    assert np.sqrt(blur_sigma(soft, everywhere) ** 2 - sharp**2) == pytest.approx(2.0, rel=0.15)
    compressed = degrade(crops, jpeg=35)[0].permute(1, 2, 0).numpy()
    assert jpeg_quality(decode(compressed, np.uint8)) == 35
    warm, red_over_blue = degrade(crops, "warm"), lambda x: x[:, 0].mean() / x[:, 2].mean()  # noqa: E731
    assert red_over_blue(warm) > 1.2 * red_over_blue(crops) and warm.mean() < crops.mean()  # warmer and darker


def test_a_bad_degradation_names_the_key():
    with pytest.raises(ConfigError, match="plate_grade=sepia: choose one of"):
        degrade(torch.zeros(1, 3, 8, 8), "sepia")
    with pytest.raises(ConfigError, match="plate_jpeg=101"):
        degrade(torch.zeros(1, 3, 8, 8), jpeg=101)
