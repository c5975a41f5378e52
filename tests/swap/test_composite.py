"""fusion.swap.composite: what the face and the plate each give the composite, grain, linear EXR plates."""

import cv2
import numpy as np
import pytest
import torch

from fusion.swap.composite import composite_face


def _blobs(centres: np.ndarray, size: int, sigma: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in centres)


def _face_polygon() -> np.ndarray:
    """A 90 x 100 px elliptical face outline centred in a 160 px frame."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return np.stack([80 + 45 * np.cos(angles), 80 + 50 * np.sin(angles)], 1).astype(np.float32)


def test_multiband_composite_takes_features_from_the_face_and_lighting_from_the_plate():
    """Blobs a tenth of the face wide (eyes, nostrils) come from the face; the shading from the plate.

    The training blend's settings (depth from the box, no-leak erosion) fail this: in that box they mix
    one band only, and the interior's detail correlates 0.19 with the face's and 0.99 with the plate's.
    """
    size, rng = 160, np.random.default_rng(0)
    plate_features, face_features = (_blobs(rng.uniform(45, 115, (12, 2)), size) for _ in range(2))
    xx = np.mgrid[:size, :size][1] / size
    plate = np.clip((0.25 + 0.4 * xx)[..., None] * [1, 0.8, 0.7] - 0.2 * plate_features[..., None], 0, 1)
    face = np.clip(np.full((size, size, 1), 0.7) * [0.9, 0.9, 1.0] - 0.2 * face_features[..., None], 0, 1)
    polygon = _face_polygon()
    out, matte = composite_face(plate.astype(np.float32), face.astype(np.float32), np.eye(2, 3), polygon)
    np.testing.assert_array_equal(out[matte == 0], plate.astype(np.float32)[matte == 0])
    inner = cv2.erode((matte == 1).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    detail = lambda image: (image - cv2.GaussianBlur(image, (0, 0), 6)).mean(-1)[inner]
    shading = lambda image: cv2.GaussianBlur(image.astype(np.float32), (0, 0), 12)[inner]
    assert np.corrcoef(detail(out), detail(face))[0, 1] > 0.85
    assert np.corrcoef(detail(out), detail(plate))[0, 1] < 0.4
    assert np.abs(shading(out) - shading(plate)).mean() < 0.02 < 0.2 < np.abs(shading(out) - shading(face)).mean()


def test_grain_gives_the_face_the_plates_noise_level():
    from fusion.swap.grain import noise_sigma

    size, rng = 160, np.random.default_rng(1)
    xx = np.mgrid[:size, :size][1] / size
    plate = ((0.3 + 0.4 * xx)[..., None] * [1, 0.8, 0.7] + rng.normal(0, [0.03, 0.02, 0.04], (size, size, 3)))
    face = np.full((size, size, 3), 0.6)  # a decoder's clean output
    polygon = _face_polygon()
    plate, face = plate.astype(np.float32), face.astype(np.float32)
    clean, matte = composite_face(plate, face, np.eye(2, 3), polygon)
    grainy, _ = composite_face(plate, face, np.eye(2, 3), polygon, grain=True, seed=7)
    inner = (matte == 1).astype(np.float32)
    assert (noise_sigma(clean, inner) < 0.01).all()
    np.testing.assert_allclose(noise_sigma(grainy, inner), [0.03, 0.02, 0.04], rtol=0.15)
    np.testing.assert_array_equal(grainy[matte == 0], plate[matte == 0])
    again, _ = composite_face(plate, face, np.eye(2, 3), polygon, grain=True, seed=7)
    np.testing.assert_array_equal(again, grainy)  # a render is repeatable


@pytest.mark.parametrize("blend", ["alpha", "multiband"])
def test_an_exr_plate_comes_back_linear_in_its_own_range(blend):
    """A face that is the plate itself (in the network's encoding) composites back to the plate's linear
    values, highlights above 1 included; outside the matte the plate is bit-exact."""
    from fusion.io.image import encode
    from fusion.swap.composite import composite_face

    y, x = np.mgrid[0:128, 0:128].astype(np.float32) / 128
    plate = np.stack([0.02 + 3 * x * y, 0.2 + 0.1 * x, 0.5 * y + 1e-3], -1).astype(np.float32)
    polygon = np.array([[24, 20], [104, 20], [110, 70], [64, 112], [18, 70]], np.float64)
    out, matte = composite_face(plate, encode(plate), np.eye(2, 3), polygon, blend, erode=0, feather=4)
    inside = matte > 0
    assert out.dtype == np.float32 and plate[inside].max() > 1.5
    np.testing.assert_allclose(out[inside], plate[inside], rtol=2e-3, atol=2e-4)
    np.testing.assert_array_equal(out[~inside], plate[~inside])


@pytest.mark.parametrize("blend", ["multiband", "alpha"])
def test_an_occluder_the_learned_matte_marks_stays_the_plates_bit_for_bit(blend):
    """Where `visible` says "not face", the plate is kept exactly; the rest of the face is still replaced."""
    size = 160
    plate = np.random.default_rng(0).uniform(0.2, 0.8, (size, size, 3)).astype(np.float32)
    face = np.full((size, size, 3), 0.5, np.float32)
    visible = np.ones((size, size), np.float32)
    visible[90:130, 60:100] = 0  # a hand over the mouth
    out, matte = composite_face(plate, face, np.eye(2, 3), _face_polygon(), blend, visible=visible)
    np.testing.assert_array_equal(out[90:130, 60:100], plate[90:130, 60:100])
    assert (matte[90:130, 60:100] == 0).all() and (matte[60:80, 65:95] == 1).all()
    hull_out, hull_matte = composite_face(plate, face, np.eye(2, 3), _face_polygon(), blend)
    assert (hull_matte[95:115, 65:95] == 1).all()  # the hull alone would paste the face over the hand
    np.testing.assert_array_equal(out[matte == 0], plate[matte == 0])


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_large_face_composites_as_it_did_with_opencvs_erosion(monkeypatch, dtype):
    """A face 600 px across erodes its matte by 36 px, through the distance transforms: the hard matte is OpenCV's
    elliptic erosion's, bit for bit, and so the frame and the feathered matte (within float rounding: in the
    whole suite the feather once came out 2e-7 apart)."""
    from fusion.io.image import decode
    from fusion.swap import matte

    size, rng = 760, np.random.default_rng(2)
    xx = np.mgrid[:size, :size][1] / size
    shading = np.clip((0.2 + 0.6 * xx)[..., None] * [1, 0.8, 0.7] + rng.normal(0, 0.02, (size, size, 3)), 0, 1)
    plate = decode(shading.astype(np.float32), dtype)
    face = rng.uniform(0.3, 0.7, (128, 128, 3)).astype(np.float32)
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    polygon = np.stack([380 + 300 * np.cos(angles), 380 + 280 * np.sin(angles)], 1).astype(np.float32)
    to_crop = np.float64([[128 / 600, 0, -80 * 128 / 600], [0, 128 / 600, -100 * 128 / 600]])
    fast, fast_matte = composite_face(plate, face, to_crop, polygon)
    fast_hard = matte.hard_matte(polygon, (size, size), 36)
    kernel = lambda radius: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    monkeypatch.setattr(matte, "erode_disc", lambda mask, radius: cv2.erode(mask, kernel(radius)))
    slow, slow_matte = composite_face(plate, face, to_crop, polygon)
    assert round(0.06 * 600) == 36 and 0.3 < (fast_matte > 0).mean() < 0.6
    np.testing.assert_array_equal(fast_hard, matte.hard_matte(polygon, (size, size), 36))
    np.testing.assert_allclose(fast_matte, slow_matte, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.astype(np.float64), slow.astype(np.float64), rtol=0,
                               atol=1 if dtype == np.uint16 else 1e-6)
    np.testing.assert_array_equal(fast[fast_matte == 0], plate[fast_matte == 0])


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU: the multi-band blend on the swap's device"))])
def test_the_multiband_blend_in_torchs_form_gives_opencvs_frame(monkeypatch, device):
    """The swap on a GPU blends there in torch's form (pyramids, contrast statistics; on the CPU OpenCV's stand in):
    forced on the CPU, or on a GPU, the same matte and the frame within a level of 16 bits (float rounding), the
    plate's outside the matte."""
    from fusion.blend import contrast, erosion, multiband, pyramid
    from fusion.io.image import decode

    size, rng = 760, np.random.default_rng(4)
    plate = decode(rng.uniform(0.2, 0.8, (size, size, 3)).astype(np.float32), np.uint16)
    face = rng.uniform(0.3, 0.7, (128, 128, 3)).astype(np.float32)
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    polygon = np.stack([380 + 300 * np.cos(angles), 380 + 280 * np.sin(angles)], 1).astype(np.float32)
    to_crop = np.float64([[128 / 600, 0, -80 * 128 / 600], [0, 128 / 600, -100 * 128 / 600]])
    opencv, opencv_matte = composite_face(plate, face, to_crop, polygon)
    for module in (contrast, erosion, multiband, pyramid):
        monkeypatch.setattr(module, "uses_opencv", lambda image: False)
    torchs, torchs_matte = composite_face(plate, face, to_crop, polygon, device=device)
    # the matte is OpenCV's either way, its feather to the last bit of its distance transform's rounding
    np.testing.assert_allclose(torchs_matte, opencv_matte, rtol=0, atol=3e-7)
    assert 0 < np.abs(torchs.astype(np.int64) - opencv).max() <= 1
    outside = (opencv_matte == 0) & (torchs_matte == 0)
    np.testing.assert_array_equal(torchs[outside], plate[outside])
