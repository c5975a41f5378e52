"""How blurred an image is, as the sigma of a Gaussian blur, measured at its edges; and blurring to match.

Re-blur estimation (Zhuo and Sim, "Defocus map estimation from a single
image", 2011): at a step edge blurred by sigma, the gradient magnitude over
that of the edge re-blurred by `REBLUR` is R = sqrt(sigma**2 + REBLUR**2) /
sigma, so sigma = REBLUR / sqrt(R**2 - 1). It is read at the strongest edges
(local maxima of the gradient in its top 5%, median over them), after a light
pre-smoothing (`PRESMOOTH`, taken back out in quadrature) that keeps fine noise
from posing as sharpness. The value includes the floor every sampled image has
(~0.6-0.8 px for a sharp photo): blurs compare, and add, in quadrature.
"""

import cv2
import numpy as np

#: sigma of the re-blur whose gradient ratio is measured
REBLUR = 2.0
#: sigma of the smoothing before measuring, removed again in quadrature
PRESMOOTH = 1.0


def _gradient(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    return np.hypot(gx, gy)


def blur_sigma(image: np.ndarray, mask: np.ndarray) -> float | None:
    """Effective Gaussian blur sigma (pixels) of an (H, W, C) or (H, W) float image where (H, W) `mask` > 0;
    None where it has no edges to measure.

    >>> step = np.zeros((64, 64), np.float32); step[:, 32:] = 1
    >>> sharp, soft = (blur_sigma(cv2.GaussianBlur(step, (0, 0), s), np.ones((64, 64))) for s in (0.5, 2.0))
    >>> round(soft, 1), bool(sharp < 1.0)  # 2 px, and the floor in quadrature
    (2.1, True)
    """
    grey = image.mean(-1) if image.ndim == 3 else image
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), PRESMOOTH)
    sharp, reblurred = _gradient(grey), _gradient(cv2.GaussianBlur(grey, (0, 0), REBLUR))
    inside = mask > 0
    if inside.sum() < 64 or not sharp[inside].any():
        return None
    peaks = (sharp >= cv2.dilate(sharp, np.ones((3, 3), np.uint8))) & inside
    strong = peaks & (sharp >= np.percentile(sharp[inside], 95)) & (sharp > 1e-4)
    ratio = sharp[strong] / np.maximum(reblurred[strong], 1e-9)
    ratio = ratio[ratio > 1.01]
    if len(ratio) < 8:
        return None
    measured = REBLUR / np.sqrt(np.median(ratio) ** 2 - 1)
    return float(np.sqrt(max(measured**2 - PRESMOOTH**2, 0.0)))


def blur_to(image: np.ndarray, sigma: float | None, target: float | None) -> np.ndarray:
    """`image` blurred by the Gaussian that takes a blur of `sigma` to `target` (in quadrature); unchanged where
    it is already as blurred or either is unknown.

    >>> flat = np.ones((8, 8, 3), np.float32)
    >>> blur_to(flat, 2.0, 1.0) is flat
    True
    """
    if sigma is None or target is None or target <= sigma:
        return image
    return cv2.GaussianBlur(image, (0, 0), float(np.sqrt(target**2 - sigma**2)))
