"""Mattes a user painted on plate frames, brought into the crops they label.

A compositor may paint a few frames where the synthetic occluders are not
enough (a real hand, a veil). Each is a grey image the size of its footage
frame, white where the face is visible and black where something covers it,
named after the frame's crop in the cache:
`<painted>/<identity>/<crop key>.png`, e.g. `mattes/anna/take1.mov.0000012.png`
for frame 12 of `footage/anna/take1.mov` (the keys are the names in
`<cache>/<identity>/crops/`). It is warped into crop space with the frame's own
alignment and resized like the pack's crops.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from fusion.data.cache import IdentityCache
from fusion.errors import ConfigError
from fusion.faces.align import warp_face
from fusion.io.image import read_image


def painted_mattes(painted: str | Path, cache_root: str | Path, keys: list[str], resolution: int
                   ) -> dict[int, np.ndarray]:
    """{pack row: (R, R) float32 matte in [0, 1]} for the pack `keys` ("identity/crop key") with a painted matte."""
    painted, found = Path(painted), {}
    if not painted.is_dir():
        raise ConfigError(f"painted={painted} is not a folder; give the folder holding <identity>/<crop key>.png "
                          "mattes, or painted=null")
    for row, name in enumerate(keys):
        identity, key = name.split("/", 1)
        path = painted / identity / f"{key}.png"
        if not path.is_file():
            continue
        image = read_image(path)
        grey = image if image.ndim == 2 else image[..., 0]
        scale = np.float32(np.iinfo(grey.dtype).max if grey.dtype.kind in "ui" else 1)
        record = json.loads(IdentityCache(cache_root, identity).record_path(key).read_text())
        size = json.loads((Path(cache_root) / identity / "settings.json").read_text())["resolution"]
        crop = warp_face(grey.astype(np.float32) / scale, np.asarray(record["matrix"], np.float64), size)
        found[row] = np.clip(cv2.resize(crop, (resolution, resolution), interpolation=cv2.INTER_AREA), 0, 1)
    return found
