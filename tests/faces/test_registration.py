"""Sub-pixel registration of crops, masks and landmarks with the matrices that place them.

A Gaussian blob's intensity centroid is the image feature: warping, resizing
and pasting back must move it exactly where the matrix (or the pack's point
scaling) says.
"""

import cv2
import numpy as np
import pytest

from fusion.data.pack import resize_face
from fusion.faces.align import transform_points, warp_face
from fusion.faces.hull import polygon_mask
from fusion.io.image import encode
from fusion.swap.composite import composite_face

PLATE = (2160, 3840)
CROP = 256
SIGMA = 2.5  # blob size in crop pixels, whatever the scale
BACKGROUND = 0.2


def blob(shape: tuple[int, int], centre: np.ndarray, sigma: float) -> np.ndarray:
    """A float32 (H, W, 3) image: background plus a unit Gaussian at `centre` (x, y)."""
    image = np.full(shape, BACKGROUND, np.float32)
    r = int(8 * sigma) + 2
    x0, y0 = int(centre[0]) - r, int(centre[1]) - r
    ys, xs = np.mgrid[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1]
    image[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1] += np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))
    return np.repeat(image[..., None], 3, axis=2)


def centroid(image: np.ndarray, near: np.ndarray, radius: int, background: float = BACKGROUND) -> np.ndarray:
    """Background-subtracted intensity centroid (x, y) in a window around `near`."""
    grey = image[..., 0] if image.ndim == 3 else image
    x0, y0 = int(round(near[0])) - radius, int(round(near[1])) - radius
    window = grey[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1].astype(np.float64) - background
    ys, xs = np.mgrid[y0:y0 + window.shape[0], x0:x0 + window.shape[1]]
    return np.array([(window * xs).sum(), (window * ys).sum()]) / window.sum()


@pytest.mark.parametrize("scale", [1, 1 / 2, 1 / 3, 1 / 4, 1 / 8, 2])
def test_crop_and_paste_back_land_where_the_matrix_says(scale):
    position = np.array([2903.37, 1241.71])
    plate = blob(PLATE, position, SIGMA / scale)
    angle = np.deg2rad(3)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = np.array([101.3, 143.6])
    matrix = np.hstack([linear, (target - linear @ position)[:, None]])

    crop = warp_face(plate, matrix, CROP)
    expected = transform_points(position[None], matrix)[0]
    assert np.linalg.norm(centroid(crop, expected, int(6 * SIGMA)) - expected) < 0.05

    corners = np.array([[4, 4], [CROP - 5, 4], [CROP - 5, CROP - 5], [4, CROP - 5]], np.float64)
    polygon = transform_points(corners, cv2.invertAffineTransform(matrix)).astype(np.float32)
    # The face goes back in the network's encoding, as the swap decodes it (float plates are scene-linear).
    pasted, _ = composite_face(np.full_like(plate, BACKGROUND), encode(crop), matrix, polygon, blend="alpha", erode=0,
                               feather=0)
    assert np.linalg.norm(centroid(pasted, position, int(6 * SIGMA / scale)) - position) < 0.1


@pytest.mark.parametrize("resolution", [64, 96, 128, 384])
def test_pack_landmarks_and_mask_stay_on_the_crop_features(resolution):
    size = 192
    centre = np.array([81.37, 103.62])
    crop = blob((size, size), centre, 3 * size / resolution)
    polygon = np.array([[30.3, 20.6], [150.7, 35.2], [140.1, 160.9], [45.8, 120.4]], np.float32)
    fine = polygon_mask((polygon + 0.5) * 8 - 0.5, size * 8).astype(np.float32) / 255
    crop[..., 1] = cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA)  # the polygon, drawn sharply
    landmarks = np.repeat(centre[None], 68, axis=0)

    image, mask, points = resize_face(crop, polygon, landmarks, resolution)
    assert np.linalg.norm(centroid(image, points[0], 18) - points[0]) < 0.05
    whole = np.array([resolution / 2, resolution / 2])
    drawn = centroid(image[..., 1], whole, resolution // 2, background=0)
    assert np.linalg.norm(centroid(mask / 255, whole, resolution // 2, background=0) - drawn) < 0.05
