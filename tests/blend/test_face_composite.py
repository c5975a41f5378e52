"""fusion.blend.face_composite: the torch face composite equals the swap's on crops, and trains."""

import cv2
import numpy as np
import pytest
import torch

from fusion.blend.face_composite import composite_faces, face_levels, face_size, soft_matte
from fusion.faces.hull import polygon_mask
from fusion.swap.composite import composite_face
from fusion.swap.matte import feather_matte, hard_matte

SIZE = 128


def face_polygon(size: int = SIZE) -> np.ndarray:
    """A face-like convex outline: an ellipse 0.62 of the crop wide and 0.72 high, a little below centre."""
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    return np.stack([size * (0.5 + 0.31 * np.cos(angles)), size * (0.55 + 0.36 * np.sin(angles))], 1).astype(np.float32)


def crops(photos, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Two real photos as float32 (size, size, 3) crops in [0, 1]: the face and the image behind it."""
    resize = lambda image: cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return resize(photos["astronaut"]), resize(photos["hopper"])


def as_batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()


def test_soft_matte_is_the_swaps_feather():
    square = np.zeros((60, 60), np.float32)
    square[8:52, 8:52] = 1
    np.testing.assert_allclose(soft_matte(torch.from_numpy(square)[None, None], 6)[0, 0, 30].numpy(),
                               feather_matte(square, 6)[30], atol=1e-6)  # exact along a straight edge
    hard = hard_matte(face_polygon(256), (256, 256), erode=5)
    for feather in (3, 6, 12):
        ours = soft_matte(torch.from_numpy(hard)[None, None], feather)[0, 0].numpy()
        swaps = feather_matte(hard, feather)
        band = (swaps > 0) & (swaps < 1)
        assert np.abs(ours - swaps)[band].mean() < 0.08  # measured 0.065, 0.052, 0.032
        assert (ours[hard == 0] == 0).all() and (ours[swaps == 1] > 0.85).all()


def test_face_size_is_the_polygons_larger_extent():
    polygon = face_polygon()
    mask = torch.from_numpy(polygon_mask(polygon, SIZE) / np.float32(255))[None, None]
    assert face_size(mask) == pytest.approx(np.ptp(polygon, 0).max(), abs=2)  # pixels counted, not the outline's extent
    assert face_levels(face_size(mask), (SIZE, SIZE)) == 5


def test_crop_composite_matches_the_swaps_composite_in_crop_space(photos):
    face, behind = crops(photos)
    polygon = face_polygon()
    mask = torch.from_numpy(polygon_mask(polygon, SIZE) / np.float32(255))[None, None]
    plate = np.round(behind * 255).astype(np.uint8)  # display-referred pixels, as a crop is stored
    swaps, matte = composite_face(plate, face, np.eye(2, 3), polygon)
    swaps = swaps / np.float32(255)
    ours = composite_faces(as_batch(face), as_batch(plate / np.float32(255)), mask, match_contrast=True)
    ours = ours[0].permute(1, 2, 0).numpy()
    inside = matte > 0.99
    assert inside.mean() > 0.2
    # The same rule: only the matte's shape differs (a square erosion and a box-filter feather against
    # an ellipse and a distance map) and the pyramid's grid (the crop against the swap's face box).
    error = np.abs(ours - swaps)
    assert error[inside].mean() < 0.025 and error.mean() < 0.01  # measured 0.016, 0.006
    assert np.abs(ours - face)[inside].mean() < 0.5 * np.abs(behind - face)[inside].mean()
    outside = polygon_mask(polygon, SIZE) == 0
    assert (ours[outside] == plate[outside] / np.float32(255)).all()


def test_crop_composite_is_differentiable_in_the_face(photos):
    face, behind = crops(photos)
    mask = torch.from_numpy(polygon_mask(face_polygon(), SIZE) / np.float32(255))[None, None]
    face = as_batch(face).requires_grad_()
    weights = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    (composite_faces(face, as_batch(behind), mask) * weights).sum().backward()
    gradient = face.grad[0].abs().sum(0)
    assert gradient[50:78, 50:78].mean() > 0.5  # measured 0.75
    assert gradient[mask[0, 0] == 0].max() < 0.2  # measured 0.10: the pyramid reaches a little past the matte


def test_crop_composite_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="mask"):
        composite_faces(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(1, 1, 32, 32))

