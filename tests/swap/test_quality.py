"""Quality matching: the estimators recover known degradations, and the matched face measures like its plate."""

import cv2
import numpy as np
import pytest

from fusion.io.image import encode
from fusion.swap.blur import blur_sigma
from fusion.swap.composite import composite_face
from fusion.swap.compression import jpeg_quality, jpeg_roundtrip
from fusion.swap.grain import noise_sigma
from fusion.swap.quality import measure_quality


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()[64:384, 96:416].copy()  # 320 px around the face, uint8 RGB


def _added(measured: float, floor: float) -> float:
    return float(np.sqrt(max(measured**2 - floor**2, 0.0)))


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_blur_sigma_recovers_a_known_blur(astronaut, sigma):
    image, everywhere = astronaut.astype(np.float32) / 255, np.ones(astronaut.shape[:2], np.float32)
    floor = blur_sigma(image, everywhere)
    assert 0.3 < floor < 1.0  # a sharp photo's own
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    assert _added(blur_sigma(blurred, everywhere), floor) == pytest.approx(sigma, rel=0.15)


@pytest.mark.parametrize("sigma", [0.01, 0.02, 0.04])
def test_noise_sigma_recovers_known_noise_on_a_photo(astronaut, sigma):
    """On the photo smoothed (its own grain and JPEG noise, ~0.012, would hide the smallest sigma)."""
    image = cv2.GaussianBlur(astronaut.astype(np.float32) / 255, (0, 0), 2.0)
    everywhere = np.ones(astronaut.shape[:2], np.float32)
    noisy = image + np.random.default_rng(0).normal(0, sigma, image.shape).astype(np.float32)
    floor, measured = noise_sigma(image, everywhere), noise_sigma(noisy, everywhere)
    assert np.sqrt(np.clip(measured**2 - floor**2, 0, None)) == pytest.approx([sigma] * 3, rel=0.15)


@pytest.mark.parametrize("quality", [20, 40, 60, 80, 90])
def test_jpeg_quality_recovers_the_compression_and_finds_none_in_an_uncompressed_photo(astronaut, quality):
    assert jpeg_quality(jpeg_roundtrip(astronaut, quality)) == pytest.approx(quality, rel=0.15)
    assert jpeg_quality(astronaut) is None


def _face_polygon(centre, radius) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + 1.15 * radius * np.sin(angles)], 1)


def test_a_matched_face_measures_like_its_degraded_plate_and_the_rest_stays_bit_exact(astronaut, photos):
    """A soft, grainy, JPEG-40 plate; a sharp clean face: after matching, blur, noise and quality agree within 15%."""
    rng = np.random.default_rng(0)
    soft = cv2.GaussianBlur(astronaut.astype(np.float32), (0, 0), 2.0)
    grainy = np.clip(soft + rng.normal(0, 5, soft.shape), 0, 255).astype(np.uint8)
    plate = np.zeros((480, 480, 3), np.uint8)
    plate[80:400, 64:384] = grainy  # the face box starts off the 16 px grid: re-compression must find it
    plate = jpeg_roundtrip(plate, 40)
    face = cv2.resize(photos["hopper"], (480, 480), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    polygon = _face_polygon((224, 230), 110)
    inner = np.zeros(plate.shape[:2], np.float32)
    cv2.fillPoly(inner, [np.round(_face_polygon((224, 230), 80)).astype(np.int32)], 1)
    x0, y0 = 224 - 80, 230 - 92  # a box inside the inner region, measured as the frame's own pixels
    box = (slice(y0, y0 + 176), slice(x0, x0 + 160))

    def quality(frame):
        return measure_quality(encode(frame)[box], inner[box], (x0, y0))

    target = quality(plate)
    assert target.jpeg == 40 and target.blur > 1.5
    gaps = {}
    for setting in ("none", "match"):
        out, matte = composite_face(plate, face, np.eye(2, 3), polygon, quality=setting, seed=3)
        np.testing.assert_array_equal(out[matte == 0], plate[matte == 0])
        got = quality(out)
        gaps[setting] = {"blur": abs(got.blur - target.blur) / target.blur,
                         "noise": float(np.max(np.abs(got.noise - target.noise) / target.noise)),
                         "jpeg": None if got.jpeg is None else abs(got.jpeg - target.jpeg) / target.jpeg}
    assert gaps["match"]["blur"] < 0.15 and gaps["match"]["noise"] < 0.15 and gaps["match"]["jpeg"] < 0.15, gaps
    assert gaps["none"]["blur"] > 0.3 and gaps["none"]["jpeg"] is None, gaps  # the test can tell


def test_an_unknown_quality_is_named():
    from fusion.errors import ConfigError

    with pytest.raises(ConfigError, match="quality=jpeg: choose one of none, match"):
        composite_face(np.zeros((64, 64, 3), np.uint8), np.zeros((32, 32, 3), np.float32), np.eye(2, 3),
                       _face_polygon((32, 32), 20), quality="jpeg")
