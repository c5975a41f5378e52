"""Synthetic occluders: things pasted over a crop whose matte is then known exactly.

Labelled occlusion data without hand-painting. An occluder is a shape (an
ellipse, a polygon, a hand-like palm with fingers, a bar such as a microphone
or a pen, strands such as hair, a glasses frame, or the horse silhouette that
ships with scikit-image) filled with a texture: a flat color, a gradient,
noise, a patch of a sample image shipped with scikit-image or matplotlib, or
skin cut from another person's crop (the hard case: a hand has a face's
colors). The train and test banks use different images, so a held-out score
measures occluders the network never saw.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from fusion.errors import check_choice

SHAPES = ("ellipse", "polygon", "hand", "bar", "strands", "glasses", "silhouette")
#: scikit-image sample images whose patches texture occluders, per bank
TEXTURES = {"train": ("coffee", "chelsea", "rocket", "brick", "gravel", "colorwheel"),
            "test": ("hubble_deep_field", "immunohistochemistry", "grass", "retina", "clock")}


def _sample_images(names: tuple[str, ...]) -> list[np.ndarray]:
    import skimage.data

    images = []
    for name in names:
        image = getattr(skimage.data, name)()
        image = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
        images.append(image.astype(np.float32) / (65535 if image.dtype == np.uint16 else 255))
    return images


def _smooth_alpha(canvas: np.ndarray, supersample: int) -> np.ndarray:
    """A shape drawn at `supersample` x the size, area-reduced: an anti-aliased alpha in [0, 1]."""
    size = canvas.shape[0] // supersample
    return cv2.resize(canvas.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_AREA)


def _point(point: np.ndarray) -> tuple[int, ...]:
    """A point as OpenCV draws it: rounded integer coordinates."""
    return tuple(np.round(point).astype(int))


@dataclass(frozen=True)
class _Placement:
    """Where an occluder goes on a `big` px (supersampled) canvas: its `centre`, its `angle` (radians) and the
    width of the face there (`face`), which sizes every shape."""

    centre: np.ndarray
    angle: float
    face: float
    big: int

    @property
    def direction(self) -> np.ndarray:
        return np.array([np.cos(self.angle), np.sin(self.angle)])


def _ellipse(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    axes = rng.uniform(0.12, 0.4, 2) * at.face
    cv2.ellipse(canvas, _point(at.centre), _point(axes), np.degrees(at.angle), 0, 360, 255, -1)


def _polygon(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    corners = rng.integers(3, 8)
    radii = rng.uniform(0.15, 0.4, corners) * at.face
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    points = at.centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
    cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 255)


def _hand(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    """A palm and four fingers, the arm coming in from below or a side."""
    palm = rng.uniform(0.18, 0.28) * at.face
    cv2.ellipse(canvas, _point(at.centre), _point((palm, palm * 1.2)), np.degrees(at.angle), 0, 360, 255, -1)
    direction = at.direction
    across = np.array([-direction[1], direction[0]])
    for finger in range(4):
        base = at.centre + direction * palm + across * (finger - 1.5) * palm * 0.5
        tip = base + direction * palm * rng.uniform(0.9, 1.5)
        cv2.line(canvas, _point(base), _point(tip), 255, int(palm * 0.4))
    cv2.line(canvas, _point(at.centre), _point(at.centre - direction * at.big), 255, int(palm * 1.6))


def _bar(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    """A microphone, a pen, a cup's rim: a thick line from outside the crop, sometimes with a round end."""
    width = rng.uniform(0.05, 0.2) * at.face
    cv2.line(canvas, _point(at.centre), _point(at.centre + at.direction * at.big), 255, int(width))
    if rng.random() < 0.5:
        cv2.circle(canvas, _point(at.centre), int(width * rng.uniform(1, 2)), 255, -1)


def _strands(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    """Hair: a few thin curves over the face."""
    for _ in range(rng.integers(2, 7)):
        start = at.centre + rng.uniform(-0.5, 0.5, 2) * at.face
        bend = rng.uniform(-0.4, 0.4, (4, 2)) * at.face
        points = start + np.cumsum(bend, 0) * np.linspace(0.3, 1, 4)[:, None]
        cv2.polylines(canvas, [np.round(np.vstack([start, points])).astype(np.int32)], False, 255,
                      int(rng.uniform(0.01, 0.04) * at.face))


def _glasses(canvas: np.ndarray, at: _Placement, rng: np.random.Generator) -> None:
    """Two rims and a bridge at eye height (wherever the placement's centre is)."""
    eyes = np.array([at.big / 2, at.big * 0.47]) + rng.uniform(-0.05, 0.05, 2) * at.face
    rim = rng.uniform(0.12, 0.18) * at.face
    thick = max(int(rng.uniform(0.015, 0.05) * at.face), 1)
    for side in (-1, 1):
        cv2.ellipse(canvas, _point(eyes + [side * rim * 1.3, 0]), _point((rim, rim * 0.75)), 0, 0, 360, 255, thick)
    cv2.line(canvas, _point(eyes - [rim * 0.3, 0]), _point(eyes + [rim * 0.3, 0]), 255, thick)


def _silhouette(shape: np.ndarray | None, at: _Placement, rng: np.random.Generator) -> np.ndarray:
    """A `big` px canvas holding `shape` (an 8-bit mask; None: an empty one) scaled, turned and centred."""
    shape = shape if shape is not None else np.zeros((8, 8), np.uint8)
    scale = rng.uniform(0.5, 1.0) * at.face / max(shape.shape)
    matrix = cv2.getRotationMatrix2D((shape.shape[1] / 2, shape.shape[0] / 2), np.degrees(at.angle), scale)
    matrix[:, 2] += at.centre - [shape.shape[1] / 2, shape.shape[0] / 2]
    return cv2.warpAffine(shape, matrix, (at.big, at.big), flags=cv2.INTER_NEAREST)


#: How each shape but the silhouette is drawn onto the canvas.
_DRAW = {"ellipse": _ellipse, "polygon": _polygon, "hand": _hand, "bar": _bar, "strands": _strands,
         "glasses": _glasses}


def shape_alpha(kind: str, size: int, rng: np.random.Generator, silhouette: np.ndarray | None = None) -> np.ndarray:
    """An anti-aliased (size, size) float32 alpha of one occluder shape, placed at random over the crop's centre
    (where the face is) or coming in from an edge.

    >>> alpha = shape_alpha("ellipse", 64, np.random.default_rng(0))
    >>> alpha.shape, alpha.dtype.name, 0 < float(alpha.mean()) < 0.5, float(alpha.max())
    ((64, 64), 'float32', True, 1.0)
    """
    check_choice("occluder shape", kind, SHAPES)
    supersample = 4
    big = size * supersample
    face = big * 0.5  # the face's width in an aligned crop (face_scale 0.5)
    centre = np.array([big / 2, big * 0.55]) + rng.uniform(-0.45, 0.45, 2) * face
    at = _Placement(centre, rng.uniform(0, 2 * np.pi), face, big)
    if kind == "silhouette":
        canvas = _silhouette(silhouette, at, rng)
    else:
        canvas = np.zeros((big, big), np.uint8)
        _DRAW[kind](canvas, at, rng)
    return _smooth_alpha(canvas, supersample)


class OccluderBank:
    """Occluders of one bank ("train" or "test": different texture images) pasted onto crops.

    >>> bank = OccluderBank("train")
    >>> crop = np.full((64, 64, 3), 0.5, np.float32)
    >>> image, alpha = bank.paste(crop, np.random.default_rng(1))
    >>> bool(np.all(image[alpha == 0] == 0.5)), bool(alpha.max() > 0.99)  # untouched where nothing is pasted
    (True, True)
    """

    def __init__(self, split: str = "train"):
        check_choice("split", split, TEXTURES)
        self.split = split
        self.images = _sample_images(TEXTURES[split])
        import skimage.data

        self.silhouette = ((1 - skimage.data.horse()) * 255).astype(np.uint8)

    def texture(self, size: int, rng: np.random.Generator, skin: np.ndarray | None) -> np.ndarray:
        """A (size, size, 3) float32 fill: flat, gradient, noise, an image patch or `skin` (another face's crop)."""
        kind = rng.choice(["flat", "gradient", "noise", "image", "image", "skin"])
        if kind == "skin" and skin is not None:
            return cv2.resize(skin.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        if kind == "flat":
            return np.broadcast_to(rng.uniform(0, 1, 3).astype(np.float32), (size, size, 3)).copy()
        if kind == "gradient":
            a, b = rng.uniform(0, 1, (2, 3)).astype(np.float32)
            t = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
            ramp = a + (b - a) * t
            return np.broadcast_to(ramp if rng.random() < 0.5 else ramp.transpose(1, 0, 2), (size, size, 3)).copy()
        if kind == "noise":
            base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
            noise = rng.normal(0, 0.15, (size, size, 3)).astype(np.float32)
            noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 3))
            return np.clip(base + noise, 0, 1)
        image = self.images[rng.integers(len(self.images))]
        span = int(min(image.shape[:2]) * rng.uniform(0.2, 1.0))
        y, x = rng.integers(0, image.shape[0] - span + 1), rng.integers(0, image.shape[1] - span + 1)
        return cv2.resize(image[y:y + span, x:x + span], (size, size), interpolation=cv2.INTER_AREA)

    def paste(self, crop: np.ndarray, rng: np.random.Generator, count: int = 1,
              skin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`crop` ((R, R, 3) float32 in [0, 1]) with `count` occluders over it, and their union alpha (R, R)."""
        size = crop.shape[0]
        image, union = crop.astype(np.float32).copy(), np.zeros((size, size), np.float32)
        for _ in range(count):
            alpha = shape_alpha(SHAPES[rng.integers(len(SHAPES))], size, rng, self.silhouette)
            fill = self.texture(size, rng, skin) * rng.uniform(0.6, 1.2)
            image = image * (1 - alpha[..., None]) + np.clip(fill, 0, 1) * alpha[..., None]
            union = 1 - (1 - union) * (1 - alpha)
        return image.astype(np.float32), union
