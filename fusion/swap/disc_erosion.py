"""The swap matte's erosion by a disc: OpenCV's elliptic `cv2.erode`, the same numbers, in linear time.

`cv2.erode` with a (2r + 1)-pixel elliptic kernel visits every kernel pixel
for every image pixel, O(r**2) per pixel; at 4K the matte's radius reaches
~80 px. A mask that is 0 or 255 but for a thin anti-aliased edge is decided by
two Euclidean distance transforms (linear time): a pixel whose kernel holds no
pixel below 255 stays 255, one whose kernel surely holds a 0 becomes 0. Only
the thin band left, a few pixels around the eroded edge, takes the minimum
over the kernel, a kernel row at a time for the whole band, through a sparse
table of minima.

The kernel row `dy` spans |dx| <= round(sqrt(r**2 - dy**2)) (OpenCV's
ellipse), which holds every offset with dx**2 + dy**2 <= r**2 and none with
dx**2 + dy**2 >= r**2 + r: the two distance tests use those bounds.

All of it runs inside the mask's `support_window` only: the face box's margin
holds nothing to erode, and the window's ring of zeros stands for it exactly.
"""

import cv2
import numpy as np

__all__ = ["dilate_disc", "erode_disc", "support_window"]

#: Radii up to this erode through `cv2.erode` itself: faster there (docs/measurements.md, The swap at 4K),
#: the same numbers.
_OPENCV_MAX_RADIUS = 24


def support_window(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns holding every non-zero pixel of an (H, W) uint8 mask, with a ring of one pixel more
    where the mask goes on (None: all zero).

    Work that only sees zeros beyond the mask's pixels (an erosion by a kernel
    that is convex along rows and columns, the distance to the nearest zero) gives
    the same numbers inside this window as on the whole mask (a distance to float
    rounding): whatever lies beyond it is reached through the ring, zero too.

    >>> mask = np.zeros((10, 10), np.uint8)
    >>> mask[3:5, 0:6] = 1
    >>> support_window(mask), support_window(np.zeros((4, 4), np.uint8))
    ((slice(2, 6, None), slice(0, 7, None)), None)
    """
    x, y, width, height = cv2.boundingRect(mask)
    if width == 0:
        return None
    return (slice(max(y - 1, 0), min(y + height + 1, mask.shape[0])),
            slice(max(x - 1, 0), min(x + width + 1, mask.shape[1])))


def _kernel_half_widths(radius: int) -> np.ndarray:
    """Half-width of each row of OpenCV's (2r + 1)-pixel elliptic kernel, rows -r..r.

    >>> _kernel_half_widths(3).tolist()
    [0, 2, 3, 3, 3, 2, 0]
    """
    rows = np.arange(-radius, radius + 1)
    return np.round(np.sqrt(radius * radius - rows * rows)).astype(np.int64)


def _distance(sources: np.ndarray) -> np.ndarray:
    """Euclidean distance (float32, exact to rounding) of every pixel to the nearest True pixel of `sources`
    (huge where there is none)."""
    return cv2.distanceTransform((~sources).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _kernel_minimum(mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, radius: int) -> np.ndarray:
    """The minimum of uint8 `mask` over the elliptic kernel around each pixel (ys, xs); pixels outside do not count.

    The mask is padded with 255 by the radius, so every kernel row lies inside it, and each row's span is
    looked up in a sparse table of minima over the flattened padded mask, one kernel row for all pixels at once.
    """
    padded = cv2.copyMakeBorder(mask, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=255)
    width = padded.shape[1]
    levels = (2 * radius + 1).bit_length() - 1
    table = np.full((levels + 1, padded.size), 255, np.uint8)  # table[k, i]: min of padded.flat[i : i + 2**k]
    table[0] = padded.ravel()
    for k in range(1, levels + 1):
        span = 1 << (k - 1)
        np.minimum(table[k - 1, :-span], table[k - 1, span:], out=table[k, :-span])
    at = (ys + radius) * width + xs + radius  # each pixel's place in the flattened padded mask
    out = np.full(len(ys), 255, np.uint8)
    for dy, half in zip(range(-radius, radius + 1), _kernel_half_widths(radius).tolist()):
        level = (2 * half + 1).bit_length() - 1
        start = at + (dy * width - half)
        np.minimum(out, table[level][start], out=out)
        np.minimum(out, table[level][start + (2 * half + 1 - (1 << level))], out=out)
    return out


def erode_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """`cv2.erode(mask, elliptic (2r + 1)-pixel kernel)` of an (H, W) uint8 mask: the same numbers.

    Fast where the mask is 0 or 255 but for a thin edge (any mask is eroded
    exactly; a wide soft band costs the kernel's rows for each of its pixels).

    >>> mask = np.zeros((40, 40), np.uint8)
    >>> mask[5:35, 8:30] = 255
    >>> mask[20, 8] = 100
    >>> kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    >>> bool(np.array_equal(_erode_by_distance(mask, 6), cv2.erode(mask, kernel)))
    True
    """
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"expected an (H, W) uint8 mask, got {mask.dtype} of shape {mask.shape}")
    if radius < 0:
        raise ValueError(f"radius must be non-negative, got {radius}")
    if radius == 0:
        return mask.copy()
    out = np.zeros_like(mask)
    window = support_window(mask)
    if window is None:
        return out
    if radius <= _OPENCV_MAX_RADIUS:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        out[window] = cv2.erode(mask[window], kernel)
    else:
        out[window] = _erode_by_distance(np.ascontiguousarray(mask[window]), radius)
    return out


def _erode_by_distance(mask: np.ndarray, radius: int) -> np.ndarray:
    """`erode_disc` by the two distance transforms and the band's kernel minimum (the module's docstring)."""
    # squared distances are whole numbers: the half-way thresholds hold whatever the float rounding
    kept = _distance(mask < 255) > np.sqrt(radius * radius + radius - 0.5)  # no pixel below 255 in the kernel
    lost = _distance(mask == 0) < np.sqrt(radius * radius + 0.5)  # a 0 in the kernel
    out = kept.view(np.uint8) * np.uint8(255)
    ys, xs = np.nonzero(~kept & ~lost)
    out[ys, xs] = _kernel_minimum(mask, ys, xs, radius)
    return out


def dilate_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """`cv2.dilate(mask, elliptic (2r + 1)-pixel kernel)`: `erode_disc` of the inverted mask, inverted.

    >>> mask = np.zeros((30, 30), np.uint8)
    >>> mask[10:20, 12:18] = 255
    >>> kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (81, 81))
    >>> bool(np.array_equal(dilate_disc(mask, 40), cv2.dilate(mask, kernel)))
    True
    """
    return 255 - erode_disc(255 - mask, radius)
