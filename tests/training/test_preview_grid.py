"""Preview grids a person can read at every stage: labelled rows, tiles enlarged without blending pixels."""

import numpy as np
import torch

from fusion.training.preview_grid import LABEL_WIDTH, preview_grid


def test_a_16px_stage_is_enlarged_to_128px_tiles_with_labelled_rows():
    source = torch.rand(3, 3, 16, 16)
    grid = preview_grid({"source": source, "prediction": 1 - source}, count=3)
    assert grid.shape == (2 * 128, LABEL_WIDTH + 3 * 128, 3)
    tile = grid[:128, LABEL_WIDTH:LABEL_WIDTH + 128]
    expected = (source[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(tile[::8, ::8], expected)  # nearest neighbour: every pixel an 8x8 block of itself
    labels = grid[:, :LABEL_WIDTH]
    assert (labels[:128] > 128).sum() > 50 and (labels[128:] > 128).sum() > (labels[:128] > 128).sum()  # longer word
