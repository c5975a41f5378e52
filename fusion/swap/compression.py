"""How hard a plate was JPEG-compressed, as a quality factor; and compressing a face as hard.

JPEG ghosts (Farid, "Exposing digital forgeries from JPEG ghosts", 2009): an
image compressed at quality q changes least when compressed again at q, so
the mean squared change over a scan of qualities (every one from 10 to 94)
dips sharply at q. The scan runs on 8-bit pixels of a centre patch aligned to
the 16-pixel grid of the frame's chroma blocks. A dip not clearly below both
neighbours (an uncompressed or nearly lossless plate) means "no compression
found". H.264 plates have no JPEG grid, so there the quality is an
approximation of their strength.
"""

import cv2
import numpy as np

#: the block grid of 4:2:0 JPEG (chroma MCUs), to which estimates and re-compression align
GRID = 16
#: qualities scanned; 95 and above count as uncompressed
SCAN = range(10, 95)
#: the side of the centre patch scanned: compression is the same all over a frame
PATCH = 128


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image JPEG-compressed at `quality` (OpenCV, 4:2:0) and decoded again.

    >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> bool(np.abs(jpeg_roundtrip(image, 30).astype(int) - image).mean() > 10)
    True
    """
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode a {image.shape} image")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def grid_offset(x0: int, y0: int) -> tuple[int, int]:
    """(dx, dy) from a region at frame position (x0, y0) to its first pixel on the frame's block grid.

    >>> grid_offset(21, 32)
    (11, 0)
    """
    return -x0 % GRID, -y0 % GRID


def _change(image: np.ndarray, quality: int) -> float:
    return float(np.mean(np.square(jpeg_roundtrip(image, quality).astype(np.float32) - image)))


def jpeg_quality(image: np.ndarray) -> int | None:
    """The JPEG quality an (H, W, 3) uint8 RGB image (its first pixel on the block grid) was compressed at;
    None if none is found.

    >>> image = cv2.resize(np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8), (128, 128))
    >>> jpeg_quality(jpeg_roundtrip(image, 47)), jpeg_quality(image)
    (47, None)
    """
    h, w = (min(side, PATCH) // GRID * GRID for side in image.shape[:2])
    if min(h, w) < GRID:
        return None
    y0, x0 = ((side - size) // 2 // GRID * GRID for side, size in zip(image.shape[:2], (h, w)))
    patch = np.ascontiguousarray(image[y0:y0 + h, x0:x0 + w])
    changes = {q: _change(patch, q) for q in SCAN}
    best = min(changes, key=changes.get)
    neighbours = [changes.get(q) if q in changes else _change(patch, q) for q in (max(best - 5, 1), best + 5)]
    return best if changes[best] < 0.5 * min(neighbours) else None
