"""fusion.swap.disc_erosion: OpenCV's elliptic erosion and dilation, the same numbers, by distance transforms, in
the mask's window."""

import cv2
import numpy as np
import pytest

from fusion.faces.hull import polygon_mask
from fusion.swap import disc_erosion
from fusion.swap.disc_erosion import _erode_by_distance, dilate_disc, erode_disc, support_window
from fusion.swap.matte import feather_matte


def ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def face_mask(size: int, seed: int) -> np.ndarray:
    """An anti-aliased convex face outline (the swap's hull mask) at a random sub-pixel place, cut by the frame
    on one side."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    centre = rng.uniform(0.45, 0.55, 2) * size
    polygon = centre + np.stack([0.4 * np.cos(angles), 0.47 * np.sin(angles)], 1) * size
    return polygon_mask(polygon.astype(np.float32) + [0, 0.08 * size], size)


@pytest.mark.parametrize("radius", [33, 47, 79])
def test_erosion_and_dilation_equal_opencvs_on_a_face_mask(radius):
    """The 4K matte's radii (erode 6% of a ~1300 px face is 79 px) on a face whose bottom leaves the frame."""
    mask = face_mask(int(radius / 0.06), radius)
    assert 0 < (mask % 255).sum() and mask[-1].any()  # an anti-aliased edge, and cut by the frame
    np.testing.assert_array_equal(erode_disc(mask, radius), cv2.erode(mask, ellipse(radius)))
    np.testing.assert_array_equal(dilate_disc(mask, radius), cv2.dilate(mask, ellipse(radius)))


@pytest.mark.parametrize("seed", range(6))
def test_the_distance_path_is_exact_on_any_mask(seed):
    """Speckled masks with grey pixels everywhere, at small radii too: no thin-edge assumption in the numbers."""
    rng = np.random.default_rng(seed)
    mask = np.where(rng.uniform(size=(70, 90)) < 0.03, 0, 255).astype(np.uint8)
    grey = rng.uniform(size=mask.shape) < 0.1
    mask[grey] = rng.integers(1, 255, grey.sum())
    for radius in (1, 2, 5, 12, 30):
        np.testing.assert_array_equal(_erode_by_distance(mask, radius), cv2.erode(mask, ellipse(radius)))


def test_opencv_takes_small_radii_and_the_distance_path_large_ones(monkeypatch):
    calls = []
    monkeypatch.setattr(disc_erosion, "_erode_by_distance", lambda mask, radius: calls.append(radius) or mask)
    mask = face_mask(200, 0)
    erode_disc(mask, disc_erosion._OPENCV_MAX_RADIUS)
    erode_disc(mask, disc_erosion._OPENCV_MAX_RADIUS + 1)
    assert calls == [disc_erosion._OPENCV_MAX_RADIUS + 1]


def test_bad_masks_are_named():
    with pytest.raises(ValueError, match="uint8"):
        erode_disc(np.zeros((4, 4), np.float32), 2)
    with pytest.raises(ValueError, match="non-negative"):
        erode_disc(np.zeros((4, 4), np.uint8), -1)


@pytest.mark.parametrize("corner", [False, True])
def test_work_in_the_masks_window_gives_the_numbers_of_the_whole_box(corner):
    """A face mask with the face box's margin of zeros around it, or cut by the frame's bottom edge: eroded in its
    `support_window` (both paths) it is OpenCV's erosion of the whole box, and feathered there, the whole box's
    distance ramp (to float rounding); an all-zero mask stays zero."""
    face = face_mask(300, 3)
    box = np.zeros((420, 460), np.uint8)
    box[(slice(120, 420), slice(160, 460)) if corner else (slice(60, 360), slice(80, 380))] = face
    window = support_window(box)
    assert box[window].size < 0.6 * box.size
    assert window[0] == (slice(120 + 37 - 1, 420) if corner else slice(60 + 37 - 1, 360 + 1))  # the frame cuts the ring
    for radius in (20, 40):
        np.testing.assert_array_equal(erode_disc(box, radius), cv2.erode(box, ellipse(radius)))
    matte = erode_disc(box, 40).astype(np.float32) / 255
    whole = cv2.distanceTransform((matte > 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(whole / 25, 0, 1)
    # OpenCV's precise distance transform rounds by how it splits the image among its threads: a last bit apart
    np.testing.assert_allclose(feather_matte(matte, 25), matte * (ramp * ramp * (3 - 2 * ramp)), rtol=0, atol=3e-7)
    blank = np.zeros((30, 40), np.uint8)
    assert not erode_disc(blank, 40).any() and not feather_matte(blank.astype(np.float32), 5).any()
