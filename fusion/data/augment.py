"""Variations of a source crop for identities with little footage: a flip, a small affine jitter, a color jitter.

With identities balanced, an actor filmed for six seconds has each crop drawn
many times more often than a well-filmed one; varying those draws keeps the
decoder from learning a few frames by heart. The crop's mask and feature maps
move with it, so the loss still looks at the face it shows. Small enough that
an aligned face stays aligned: up to 4 degrees, 4% scale, 3% shift.
"""

import cv2
import numpy as np


def jitter_source(image: np.ndarray, mask: np.ndarray, features: np.ndarray, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image (H, W, 3), mask (H, W), features (H, W, 3)) float32 varied alike, from `seed`.

    >>> image = np.zeros((32, 32, 3), np.float32); image[8:12, 4:10] = 1
    >>> mask = image[..., 0].copy()
    >>> out, moved, _ = jitter_source(image, mask, np.zeros((32, 32, 3), np.float32), 5)
    >>> bool(np.abs((out.mean(-1) > 0.5) ^ (moved > 0.5)).mean() < 0.01)  # the mask follows the face
    True
    """
    rng = np.random.default_rng(seed)
    size = image.shape[0]
    if rng.random() < 0.5:
        image, mask, features = image[:, ::-1], mask[:, ::-1], features[:, ::-1]
    matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), rng.uniform(-4, 4), rng.uniform(0.96, 1.04))
    matrix[:, 2] += rng.uniform(-0.03, 0.03, 2) * size
    warp = lambda array, border: cv2.warpAffine(np.ascontiguousarray(array), matrix, (size, size),  # noqa: E731
                                                flags=cv2.INTER_LINEAR, borderMode=border)
    image = warp(image, cv2.BORDER_REFLECT101)
    mask, features = warp(mask, cv2.BORDER_CONSTANT), warp(features, cv2.BORDER_CONSTANT)
    gain, lift = rng.uniform(0.92, 1.08, 3).astype(np.float32), np.float32(rng.uniform(-0.03, 0.03))
    return np.clip(image * gain + lift, 0, max(1.0, float(image.max()))), mask, features
