"""The performance a face gives, read from its 68 landmarks: head pose, mouth opening, eye openness.

A swap must carry the new person's face shape but follow the plate's
performance, so it is judged on quantities that shape barely moves:

- **head pose**: a rotation fitted (`cv2.solvePnP`) to eleven points of a
  generic head that expression leaves in place (the eyes' corners, the top,
  tip and base of the nose) seen by a distant camera, the points first
  centred and scaled by the inter-ocular distance so a crop and a plate of
  the same face read alike; compared as the angle of the rotation from one
  pose to the other, in degrees. The chin and the mouth's corners are left
  out: an open mouth moves them, and the fit read it as a turn of the head,
  either way from one frame to the next;
- **mouth opening**: the inner lips' mean gap over the mouth's width;
- **eye openness**: the eyes' mean height over their width (both eyes).

Each is a ratio or an angle, so it means the same at every resolution. The
comparison of a swap with its plate (`follow_scores`) gives the mean absolute
differences, and, where the plate's mouth moves, the correlation over time.
"""

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Performance", "follow_scores", "measure_performance", "pose_error"]

#: The 68-point layout's points the pose is fitted to: top of the nose, its tip and base, the eyes' corners.
POSE_POINTS = [27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45]
#: A generic head's eleven points (camera axes: x right, y down, z away), facing the camera; outer eye corners
#: 450 apart (about 5 units a millimetre), the proportions of an average adult face, rounded.
POSE_MODEL = np.array([[0, -170, 100], [0, -113, 67], [0, -57, 33], [0, 0, 0], [-70, 45, 80], [0, 60, 60],
                       [70, 45, 80], [-225, -170, 135], [-80, -165, 90], [80, -165, 90], [225, -170, 135]], np.float64)
#: The virtual camera: a focal length ten model widths, so perspective is as weak as at a real distance.
_FOCAL = 4500.0
#: The inner lips' facing pairs (upper, lower) and the mouth's corners.
_INNER_LIPS, _MOUTH_CORNERS = [(61, 67), (62, 66), (63, 65)], (48, 54)
#: Each eye's six points: corner, two upper lid, corner, two lower lid.
_EYES = [range(36, 42), range(42, 48)]
#: The plate's mouth moves when its opening's standard deviation over the frames exceeds this.
MOUTH_MOVES = 0.02


@dataclass(frozen=True)
class Performance:
    """Per frame (N,): head `rotation` (N, 3, 3), `yaw`, `pitch`, `roll` in degrees, `mouth` opening and
    `eyes` openness; NaN (and a NaN rotation) where no face was measured."""

    rotation: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    mouth: np.ndarray
    eyes: np.ndarray


def _rotation(points: np.ndarray) -> np.ndarray:
    """The (3, 3) head rotation of one (68, 2) landmark set."""
    seen = points[POSE_POINTS].astype(np.float64)
    scale = 450.0 / max(float(np.linalg.norm(points[45] - points[36])), 1e-9)
    seen = (seen - seen.mean(0)) * scale
    camera = np.array([[_FOCAL, 0, 0], [0, _FOCAL, 0], [0, 0, 1]], np.float64)
    start = np.array([0.0, 0.0, _FOCAL * 2], np.float64)
    ok, rvec, _ = cv2.solvePnP(POSE_MODEL, seen, camera, None, np.zeros(3), start, useExtrinsicGuess=True,
                               flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return np.full((3, 3), np.nan)
    return cv2.Rodrigues(rvec)[0]


def _angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation: about the camera's y, x and z axes."""
    yaw = np.degrees(np.arcsin(np.clip(-rotation[2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2]))
    roll = np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0]))
    return float(yaw), float(pitch), float(roll)


def _openness(points: np.ndarray) -> tuple[float, float]:
    """(mouth opening, eye openness) of one (68, 2) landmark set."""
    width = np.linalg.norm(points[_MOUTH_CORNERS[0]] - points[_MOUTH_CORNERS[1]])
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in _INNER_LIPS])
    eyes = [(np.linalg.norm(points[e[1]] - points[e[5]]) + np.linalg.norm(points[e[2]] - points[e[4]]))
            / (2 * np.linalg.norm(points[e[0]] - points[e[3]])) for e in _EYES]
    return float(gap / width), float(np.mean(eyes))


def measure_performance(landmarks: np.ndarray) -> Performance:
    """The performance of (N, 68, 2) landmark sets (a set of NaN: no face found)."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise ValueError(f"expected (N, 68, 2) landmark sets, got {landmarks.shape}")
    n = len(landmarks)
    rotation, values = np.full((n, 3, 3), np.nan), np.full((n, 5), np.nan)
    for i, points in enumerate(landmarks):
        if np.isfinite(points).all():
            rotation[i] = _rotation(points)
            values[i] = (*_angles(rotation[i]), *_openness(points))
    return Performance(rotation, *values.T)


def pose_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) angles in degrees of the rotations taking poses `a` (N, 3, 3) to `b`.

    >>> turn = cv2.Rodrigues(np.array([0.0, np.radians(10), 0.0]))[0]
    >>> pose_error(np.eye(3)[None], turn[None]).round(6).tolist()
    [10.0]
    """
    relative = np.einsum("nji,njk->nik", a, b)
    cosine = (np.trace(relative, axis1=1, axis2=2) - 1) / 2
    return np.degrees(np.arccos(np.clip(cosine, -1, 1)))


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's correlation of two series, None where either is constant."""
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def follow_scores(swap: Performance, plate: Performance) -> dict[str, float | None]:
    """How closely `swap` follows `plate`, frame by frame (frames where either has no face are left out):
    mean pose error (degrees), mean absolute mouth and eye differences, and the mouth's correlation over
    time where the plate's mouth moves (its standard deviation over `MOUTH_MOVES`; else None).

    >>> still, level = np.repeat(np.eye(3)[None], 4, 0), np.zeros(4)
    >>> plate = Performance(still, level, level, level, np.array([0.0, 0.1, 0.2, 0.3]), level + 0.3)
    >>> swap = Performance(still, level, level, level, np.array([0.0, 0.05, 0.1, 0.15]), level + 0.2)
    >>> scores = follow_scores(swap, plate)
    >>> scores["pose_error"], round(scores["mouth_error"], 3), round(scores["eye_error"], 3)
    (0.0, 0.075, 0.1)
    >>> round(scores["mouth_correlation"], 6)  # half as wide, in step
    1.0
    """
    found = np.isfinite(swap.mouth) & np.isfinite(plate.mouth)
    if not found.any():
        return {"pose_error": None, "mouth_error": None, "eye_error": None, "mouth_correlation": None}
    mouth_s, mouth_p = swap.mouth[found], plate.mouth[found]
    moves = mouth_p.std() > MOUTH_MOVES
    return {"pose_error": float(pose_error(swap.rotation[found], plate.rotation[found]).mean()),
            "mouth_error": float(np.abs(mouth_s - mouth_p).mean()),
            "eye_error": float(np.abs(swap.eyes[found] - plate.eyes[found]).mean()),
            "mouth_correlation": _correlation(mouth_s, mouth_p) if moves else None}
