"""Quality matching: the decoded face degraded, never the plate, to the plate's blur, noise and compression.

A decoder's face is cleaner than footage: sharper than a soft lens or a
motion-blurred frame, noiseless, free of compression blocks. Measured inside
the face matte (the plate's own face there is the reference), the face is
blurred to the plate's sharpness (`blur.py`), given the plate's noise
(`grain.py`) and JPEG-compressed at the plate's quality on the frame's own
block grid (`compression.py`), in that order, as a camera and an encoder
would. The blur counts the softening that compression will add (measured on
the face compressed), or the face would end up softer than the plate. Where the plate is better than the face (sharper, cleaner,
uncompressed), that step does nothing.
"""

from dataclasses import dataclass

import numpy as np

from fusion.io.image import decode
from fusion.swap.blur import blur_sigma, blur_to
from fusion.swap.compression import grid_offset, jpeg_quality, jpeg_roundtrip
from fusion.swap.grain import add_grain, noise_sigma


@dataclass
class MeasuredQuality:
    """An image region's blur sigma (px), per-channel noise sigma and JPEG quality (None: not found)."""

    blur: float | None
    noise: np.ndarray
    jpeg: int | None


def _pixels(encoded: np.ndarray) -> np.ndarray:
    """Network-encoded values as the 8-bit pixels a JPEG encoder saw (an 8-bit plate's own pixels, exactly)."""
    return decode(encoded, np.uint8)


def _on_grid(image: np.ndarray, origin: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    dx, dy = grid_offset(*origin)
    return image[dy:, dx:], (dx, dy)


def measure_quality(region: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> MeasuredQuality:
    """The quality of an (H, W, 3) network-encoded region of a frame, whose top-left pixel is at `origin`
    (x, y) in the frame, inside the (H, W) `mask` (> 0.5)."""
    inside = (mask > 0.5).astype(np.float32)
    return MeasuredQuality(blur_sigma(region, inside), noise_sigma(region, inside),
                           jpeg_quality(_on_grid(_pixels(region), origin)[0]))


def match_quality(face: np.ndarray, region: np.ndarray, mask: np.ndarray, origin: tuple[int, int],
                  seed: int) -> np.ndarray:
    """The face composited over `region` (both (H, W, 3) network-encoded, plate space, `mask` its soft matte) with the
    region's blur, noise and compression inside the matte; equal to the plain composite where `mask` is 0.

    >>> rng = np.random.default_rng(0)
    >>> region = np.clip(0.5 + rng.normal(0, 0.03, (64, 64, 3)), 0, 1).astype(np.float32)
    >>> face, mask = np.full((64, 64, 3), 0.4, np.float32), np.zeros((64, 64), np.float32)
    >>> mask[16:48, 16:48] = 1
    >>> out = match_quality(face, region, mask, (0, 0), seed=1)
    >>> bool(np.all(out[mask == 0] == region[mask == 0])), round(float(out[20:44, 20:44].std()), 2)
    (True, 0.03)
    """
    hard = (mask > 0.5).astype(np.float32)
    aligned, (dx, dy) = _on_grid(_pixels(region), origin)
    quality = jpeg_quality(aligned)
    sigma = blur_sigma(face, hard)
    if quality is not None and sigma is not None:  # the compression to come softens the face too: count it
        compressed = face.copy()
        compressed[dy:, dx:] = jpeg_roundtrip(_pixels(face[dy:, dx:]), quality) / np.float32(255)
        sigma = max(sigma, blur_sigma(compressed, hard) or 0.0)
    face = blur_to(face, sigma, blur_sigma(region, hard))
    mixed = face * mask[..., None] + region * (1 - mask[..., None])
    mixed = add_grain(mixed, region, mask, seed)
    if quality is not None:
        compressed = mixed.copy()
        compressed[dy:, dx:] = jpeg_roundtrip(_pixels(mixed[dy:, dx:]), quality) / np.float32(255)
        mixed = np.where(mask[..., None] > 0, compressed, mixed)
    return mixed
