"""Contact sheets: a grid of aligned crops with landmarks and mask outline.

The first thing to look at after `prepare`: misaligned crops, a wrong person
or a mask that cuts the chin show up at a glance.
"""

from pathlib import Path

import cv2
import numpy as np

from fusion.data.cache import IdentityCache
from fusion.io.image import read_image, to_uint8, write_image


def draw_face(crop: np.ndarray, landmarks: np.ndarray, polygon: np.ndarray, size: int) -> np.ndarray:
    """An 8-bit thumbnail with landmarks (green) and mask outline (red)."""
    scale = size / crop.shape[0]
    thumb = cv2.resize(to_uint8(crop), (size, size), interpolation=cv2.INTER_AREA)
    cv2.polylines(thumb, [np.round(polygon * scale * 16).astype(np.int32)], True, (255, 40, 40), 1, cv2.LINE_AA, shift=4)
    for x, y in landmarks * scale:
        cv2.circle(thumb, (int(round(x * 16)), int(round(y * 16))), 16, (40, 255, 40), -1, cv2.LINE_AA, shift=4)
    return thumb


def write_contact_sheet(cache: IdentityCache, records: list[dict], path: Path, count: int = 24,
                        columns: int = 6, size: int = 160) -> None:
    """Write `count` evenly spaced crops of an identity as one PNG."""
    picks = [records[i] for i in np.linspace(0, len(records) - 1, min(count, len(records))).round().astype(int)]
    rows = -(-len(picks) // columns)
    sheet = np.full((rows * size, columns * size, 3), 32, np.uint8)
    for i, record in enumerate(picks):
        crop = read_image(cache.folder / record["crop"])
        tile = draw_face(crop, np.array(record["landmarks"]), np.array(record["mask_polygon"]), size)
        r, c = divmod(i, columns)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
    write_image(path, sheet)
