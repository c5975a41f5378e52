"""Built-in demo footage: short "clips" made from real photos that ship inside
installed packages, so a fresh machine can run the whole pipeline offline.

Each photo becomes one identity: smooth small affine motion (drift, roll,
zoom), slow lighting and color changes and a little sensor noise, the kind
of variation a locked-off talking-head shot has. One identity is written as
an mp4 and one as a PNG sequence so both input paths run. This is a demo,
not training data: two stills cannot teach expressions.
"""

from pathlib import Path

import cv2
import numpy as np

from fusion.io.atomic import atomic_path
from fusion.io.image import read_image, write_image

SIZE = 512


def demo_photos() -> dict[str, np.ndarray]:
    """The package photos as 512x512 RGB uint8, keyed by identity name."""
    import matplotlib.cbook
    import skimage.data

    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return {"hopper": hopper[20:20 + SIZE, :SIZE], "astronaut": skimage.data.astronaut()}


def jitter_frame(photo: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    """Frame at phase `t` in [0, 1): smooth motion, light and color drift, noise."""
    angle = 4 * np.sin(2 * np.pi * t)
    scale = 1 + 0.03 * np.sin(2 * np.pi * 2 * t)
    shift = SIZE * 0.03 * np.array([np.sin(2 * np.pi * t + 1), np.cos(2 * np.pi * t)])
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, scale)
    matrix[:, 2] += shift
    frame = cv2.warpAffine(photo, matrix, (SIZE, SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    gain = (1 + 0.12 * np.sin(2 * np.pi * t)) * (1 + 0.05 * np.array([np.sin(2 * np.pi * t + k) for k in range(3)]))
    frame = frame.astype(np.float32) * gain + rng.normal(0, 2.0, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def make_demo_footage(root: str | Path, frames: int = 48, seed: int = 0) -> Path:
    """Write the demo identities under `root` (skipped if already there)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for identity, photo in demo_photos().items():
        folder = root / identity
        if folder.is_dir() and any(folder.iterdir()):
            continue
        clip = [jitter_frame(photo, i / frames, rng) for i in range(frames)]
        if identity == "hopper":
            for i, frame in enumerate(clip):
                write_image(folder / f"hopper.{i:04d}.png", frame)
        else:
            with atomic_path(folder / f"{identity}.mp4") as tmp:
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 24, (SIZE, SIZE))
                for frame in clip:
                    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                writer.release()
    return root
