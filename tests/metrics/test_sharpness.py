"""The sharpness measure against what fools a Laplacian ratio: noise. (Raised bands of a soft face are partly
credited, as edge steepening: docs/measurements.md.)"""

import cv2
import kornia
import numpy as np
import pytest
import torch

from fusion.metrics.sharpness import sharpness_ratio, structure_sharpness

SIZE = 192


def sharp_face() -> torch.Tensor:
    """(1, 3, SIZE, SIZE) in [0, 1]: filled shapes and thin lines of a face's contrast over a soft gradient."""
    rng = np.random.default_rng(0)
    image = np.tile(np.linspace(0.3, 0.6, SIZE, dtype=np.float32)[:, None, None], (1, SIZE, 3))
    for _ in range(40):
        color = tuple(float(c) for c in rng.uniform(0.3, 0.6, 3))
        x, y = (int(v) for v in rng.integers(0, SIZE, 2))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), int(rng.integers(3, 20)), color, -1, cv2.LINE_AA)
        else:
            cv2.line(image, (x, y), tuple(int(v) for v in rng.integers(0, SIZE, 2)), color, 1, cv2.LINE_AA)
    return torch.from_numpy(image).permute(2, 0, 1)[None]


def laplacian_ratio(swapped: torch.Tensor, plate: torch.Tensor) -> float:
    """The measure this one replaced: variance of the grey Laplacian, swap over plate."""
    energy = lambda x: kornia.filters.laplacian(x.mean(1, keepdim=True), 3)[..., 28:-28, 28:-28].var()  # noqa: E731
    return float(energy(swapped) / energy(plate))


@pytest.fixture(scope="module")
def faces():
    plate = sharp_face()
    mask = torch.zeros(1, 1, SIZE, SIZE)
    mask[..., 24:-24, 24:-24] = 1
    # A decoder's face at half the plate's resolution, warped up as the swap does.
    small = cv2.resize(plate[0].permute(1, 2, 0).numpy(), (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_AREA)
    soft = torch.from_numpy(cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)).permute(2, 0, 1)[None]
    noisy = plate + 0.02 * torch.randn(plate.shape, generator=torch.Generator().manual_seed(1))
    blurred = kornia.filters.gaussian_blur2d(plate, (9, 9), (1.5, 1.5))
    return {"plate": plate, "mask": mask, "soft": soft, "noisy": noisy, "blurred": blurred}


def test_the_plate_is_as_sharp_as_itself(faces):
    assert sharpness_ratio(faces["plate"], faces["plate"], faces["mask"]).item() == pytest.approx(1.0)


def test_blurred_and_soft_faces_score_low(faces):
    assert sharpness_ratio(faces["blurred"], faces["plate"], faces["mask"]).item() < 0.1
    assert sharpness_ratio(faces["soft"], faces["plate"], faces["mask"]).item() < 0.4


def test_noise_scores_below_the_clean_face_where_the_laplacian_calls_it_sharper(faces):
    plate, noisy, mask = faces["plate"], faces["noisy"], faces["mask"]
    assert laplacian_ratio(noisy, plate) > 1.3
    assert sharpness_ratio(noisy, plate, mask).item() < 0.8


def test_structure_sharpness_falls_with_blur_and_noise(faces):
    images = torch.cat([faces[k] for k in ("plate", "blurred", "noisy")])
    sharp, blurred, noisy = structure_sharpness(images, faces["mask"].expand(3, -1, -1, -1)).tolist()
    assert blurred < 0.1 * sharp and noisy < 0.8 * sharp
