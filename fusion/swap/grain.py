"""Grain matching: give a decoded face the plate's noise, so it does not look clean on a grainy plate.

A decoder's output is smoother than footage (it averages what it cannot
predict), so the pasted face reads as plastic against the plate's sensor
noise or film grain. The plate's noise level is measured in the face region,
per channel, from the median absolute deviation of its finest detail (robust
to edges and features, which are sparse there, unlike noise); the face gets
Gaussian noise of the missing variance, sigma_add**2 = sigma_plate**2 -
sigma_face**2, inside the matte only.
"""

import cv2
import numpy as np

__all__ = ["add_grain", "noise_sigma"]

#: Gaussian blur whose residual is the detail measured: the finest octave.
_DETAIL_SIGMA = 1.0


def _residual_gain() -> float:
    """Std of the blur residual of unit white noise: sqrt(sum((delta - kernel)**2)) of the 2-D kernel."""
    kernel_1d = cv2.getGaussianKernel(7, _DETAIL_SIGMA)
    residual = -kernel_1d @ kernel_1d.T
    residual[3, 3] += 1
    return float(np.sqrt((residual**2).sum()))


_GAIN = _residual_gain()


def noise_sigma(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel noise std of an (H, W, C) float image where the (H, W) `mask` is 1.

    >>> rng = np.random.default_rng(0)
    >>> flat = np.full((128, 128, 3), 0.5, np.float32) + rng.normal(0, 0.02, (128, 128, 3)).astype(np.float32)
    >>> noise_sigma(flat, np.ones((128, 128), np.float32)).round(3)
    array([0.02, 0.02, 0.02], dtype=float32)
    """
    residual = image - cv2.GaussianBlur(image, (7, 7), _DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    inside = residual[mask >= 1].reshape(-1, image.shape[-1])
    if len(inside) < 16:
        return np.zeros(image.shape[-1], np.float32)
    deviation = np.median(np.abs(inside - np.median(inside, 0)), 0)
    return (1.4826 * deviation / _GAIN).astype(np.float32)


def add_grain(face: np.ndarray, plate: np.ndarray, matte: np.ndarray, seed: int) -> np.ndarray:
    """`face` ((H, W, C) float, plate space) with Gaussian noise bringing its noise to the `plate`'s inside `matte`.

    The noise is scaled by the matte, so the result equals `face` wherever
    the matte is 0. `seed` (e.g. the frame number) makes a render repeatable
    while the grain still changes from frame to frame.
    """
    missing = np.square(noise_sigma(plate, matte)) - np.square(noise_sigma(face, matte))
    sigma = np.sqrt(np.clip(missing, 0, None)).astype(np.float32)
    if not sigma.any():
        return face
    noise = np.random.default_rng(seed).standard_normal(face.shape, np.float32) * sigma
    return face + noise * matte[..., None]
