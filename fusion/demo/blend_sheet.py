"""Contact sheet of blending methods on real aligned faces, for a person to judge.

``python -m fusion.demo.blend_sheet --out sheet.png [--resolution 256]``

Two photos that ship with installed packages (Grace Hopper from matplotlib's
sample data, the astronaut Eileen Collins from scikit-image) are aligned with
`fusion.faces` (dlib landmarks, offline) and each face is pasted into the
other with the source's hull mask. Columns: source, template, the mask over
the template (hull in green, eroded hull in red), hard paste, feathered alpha
(the mask blurred over the erosion width), multi-band, and multi-band with
contrast alignment. The photos differ in grain and color, which is what the
coarse template levels and the contrast alignment are for.
"""

import argparse
from pathlib import Path

import cv2
import kornia
import matplotlib.cbook
import numpy as np
import skimage.data
import torch

from fusion.blend.erosion import leak_radius
from fusion.blend.multiband import multiband_blend
from fusion.blend.pyramid import default_levels
from fusion.faces.align import AlignedFace, align_face
from fusion.faces.landmarks import load_backend
from fusion.faces.select import choose_face

COLUMNS = (
    "source",
    "template",
    "mask: hull / eroded",
    "hard paste",
    "feathered alpha",
    "multi-band",
    "multi-band + contrast",
)
LABEL_HEIGHT = 24


def sample_photos() -> dict[str, np.ndarray]:
    """The two RGB uint8 photos of the sheet, by name."""
    hopper = cv2.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return {"Hopper": cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB), "astronaut": skimage.data.astronaut()}


def aligned_faces(photos: dict[str, np.ndarray], resolution: int) -> dict[str, AlignedFace]:
    """Each photo's (largest) face, aligned to the canonical layout at `resolution`."""
    backend = load_backend("dlib")
    faces = {}
    for name, photo in photos.items():
        boxes = backend.detect(photo)
        if not boxes:
            raise RuntimeError(f"no face found in the {name} photo")
        faces[name] = align_face(photo, backend.landmarks(photo, boxes[choose_face(boxes)]), resolution)
    return faces


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def _to_image(tensor: torch.Tensor) -> np.ndarray:
    return (tensor[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()


def blends(source: np.ndarray, template: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Hard paste, feathered alpha, multi-band and multi-band with contrast alignment (RGB uint8)."""
    s, t = _to_tensor(source), _to_tensor(template)
    m = torch.from_numpy(mask)[None, None].float() / 255
    radius = leak_radius(default_levels(*mask.shape) - 2)
    # A Gaussian whose +-3 sigma spans the multi-band's smoothing band, centred on the edge.
    feather = kornia.filters.gaussian_blur2d(m, 2 * radius + 1, (radius / 3, radius / 3))
    hard = (m > 0.5).float()
    return [
        _to_image(torch.lerp(t, s, hard)),
        _to_image(torch.lerp(t, s, feather)),
        _to_image(multiband_blend(s, t, m, match_contrast=False)),
        _to_image(multiband_blend(s, t, m, match_contrast=True)),
    ]


def _mask_view(template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    radius = leak_radius(default_levels(*mask.shape) - 2)
    eroded = cv2.erode(mask, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    view = template.copy()
    for layer, color in ((mask, (0, 255, 0)), (eroded, (255, 0, 0))):
        contours, _ = cv2.findContours((layer > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(view, contours, -1, color, 1)
    return view


def _labelled(tile: np.ndarray, label: str) -> np.ndarray:
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, label, (4, LABEL_HEIGHT - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, tile])


def contact_sheet(resolution: int = 256) -> np.ndarray:
    """The sheet as an RGB uint8 array: one row per swap direction, one column per entry of COLUMNS."""
    faces = aligned_faces(sample_photos(), resolution)
    rows = []
    for source_name, template_name in (("Hopper", "astronaut"), ("astronaut", "Hopper")):
        source, template = faces[source_name], faces[template_name]
        tiles = [source.image, template.image, _mask_view(template.image, source.mask)]
        tiles += blends(source.image, template.image, source.mask)
        labels = [f"{COLUMNS[0]}: {source_name}", f"{COLUMNS[1]}: {template_name}", *COLUMNS[2:]]
        rows.append(np.hstack([_labelled(tile, label) for tile, label in zip(tiles, labels)]))
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> Path:
    """`python -m fusion.demo.blend_sheet`: write the contact sheet to `--out` as PNG and return its path."""
    parser = argparse.ArgumentParser(prog="python -m fusion.demo.blend_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--resolution", type=int, default=256, help="aligned face size in pixels")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(contact_sheet(args.resolution), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {args.out}")
    print(args.out)
    return args.out


if __name__ == "__main__":
    main()
