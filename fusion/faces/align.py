"""Alignment of a face to the canonical layout of the cache.

Six stable points are fitted (outer eye corners 36/45, outer nose points 31/35,
outer mouth corners 48/54): they carry the face's position, scale and roll but,
unlike the jaw or brows, barely move with expression, so crops of one person
stay registered while they talk. Their canonical positions are the mean face
of the public faceswap/DeepFaceLab "umeyama" template, scaled into the crop
with `face_scale` so that chin, forehead and the 10%-enlarged hull all fit.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.transform import AffineTransform, SimilarityTransform

from fusion.errors import check_choice
from fusion.faces.hull import hull_polygon, polygon_mask

#: How a face is fitted to the crop: similarity (rotation, scale, shift) or affine (also shear).
ALIGNMENTS = ("similarity", "affine")

REFERENCE_POINTS = (36, 45, 31, 35, 48, 54)

#: The reference points in the template's unit square (brows at y~0, lower lip at y~0.9).
_TEMPLATE = np.array([
    (0.121737, 0.216423), (0.858516, 0.216423),
    (0.366880, 0.587326), (0.613373, 0.587326),
    (0.254149, 0.780233), (0.726104, 0.780233),
])
_TEMPLATE_CENTRE = np.array([0.490127, 0.5])


def canonical_points(resolution: int, face_scale: float = 0.5) -> np.ndarray:
    """Target positions of the six reference points in a square crop.

    >>> canonical_points(1024)[:2].round(1).tolist()
    [[323.4, 366.8], [700.6, 366.8]]
    """
    return ((_TEMPLATE - _TEMPLATE_CENTRE) * face_scale + 0.5) * resolution


def alignment_matrix(landmarks: np.ndarray, resolution: int, face_scale: float = 0.5, kind: str = "similarity") -> np.ndarray:
    """The 2x3 least-squares (Umeyama) transform from the frame to the crop."""
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {landmarks.shape}")
    check_choice("alignment", kind, ALIGNMENTS)
    model = {"similarity": SimilarityTransform, "affine": AffineTransform}[kind]
    fitted = model.from_estimate(landmarks[list(REFERENCE_POINTS)].astype(np.float64), canonical_points(resolution, face_scale))
    if not fitted:
        raise ValueError("degenerate landmarks: the reference points do not span a face")
    return fitted.params[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points.

    >>> transform_points(np.array([[1.0, 2.0]]), np.array([[2, 0, 1], [0, 2, 0.0]])).tolist()
    [[3.0, 4.0]]
    """
    return points @ matrix[:, :2].T + matrix[:, 2]


def rescaled_points(points, scale) -> np.ndarray:
    """(N, 2) points of an image in pixels of that image resized by `scale` (a number, or (x, y)), as resize
    maps pixel centres, `(p + 0.5) * scale - 0.5`, so they stay on the features they mark.

    >>> rescaled_points(np.array([[0.0, 1.5]]), 0.5).tolist()
    [[-0.25, 0.5]]
    """
    return (np.asarray(points, np.float64) + 0.5) * scale - 0.5


def rescaled_matrix(matrix: np.ndarray, scale: float) -> np.ndarray:
    """A (2, 3) plate-to-crop `matrix` for the crop resized by `scale`, pixel centres kept (`rescaled_points`).

    >>> matrix = np.array([[2.0, 0, 1], [0, 2.0, 0]])
    >>> point = np.array([[3.0, 4.0]])
    >>> bool(np.allclose(transform_points(point, rescaled_matrix(matrix, 4)),
    ...                  rescaled_points(transform_points(point, matrix), 4)))
    True
    """
    scaled = matrix.astype(np.float64) * scale
    scaled[:, 2] += 0.5 * (scale - 1)
    return scaled


def warp_face(image: np.ndarray, matrix: np.ndarray, resolution: int) -> np.ndarray:
    """Resample the crop, keeping the image's dtype.

    `warpAffine` has no area filter, so a face that shrinks (a 4K plate into a
    512 crop) would alias; the covered region is first reduced with INTER_AREA
    to the crop's scale, leaving the warp a near-unit-scale rotation. The
    reduction's coordinates follow OpenCV's pixel-centre convention
    (`x_small = (x + 0.5) * s - 0.5`, `s` the size ratio resize produced), so
    the crop stays registered to `matrix` at every scale.
    Enlarged faces use bicubic interpolation. Outside the frame, edge pixels
    are replicated (the mask's coverage check reports such faces).
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale >= 1:
        return cv2.warpAffine(image, matrix, (resolution, resolution), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    corners = np.array([[0, 0], [resolution, 0], [0, resolution], [resolution, resolution]], np.float64)
    footprint = transform_points(corners, cv2.invertAffineTransform(matrix))
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(footprint.min(0)) - 2, 0, [w - 1, h - 1]).astype(int)
    x1, y1 = np.clip(np.ceil(footprint.max(0)) + 2, [x0 + 1, y0 + 1], [w, h]).astype(int)
    region = image[y0:y1, x0:x1]
    small = cv2.resize(region, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
    to_region = np.array([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5], [0, 0, 1]])
    rest = np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_region)
    return cv2.warpAffine(small, rest[:2], (resolution, resolution), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class AlignedFace:
    """A face crop with its landmarks, hull-mask polygon and mask in crop pixels."""

    image: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray
    polygon: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """The hull polygon rasterised at the crop's size: (H, W) uint8, 0 or 255, anti-aliased."""
        return polygon_mask(self.polygon, self.image.shape[0])


def align_face(image: np.ndarray, landmarks: np.ndarray, resolution: int, face_scale: float = 0.5,
               kind: str = "similarity", enlarge: float = 0.1) -> AlignedFace:
    """Warp a face to the canonical layout; the mask is the enlarged 68-point hull."""
    matrix = alignment_matrix(landmarks, resolution, face_scale, kind)
    aligned = transform_points(landmarks.astype(np.float64), matrix).astype(np.float32)
    return AlignedFace(warp_face(image, matrix, resolution), aligned, matrix, hull_polygon(aligned, enlarge))
