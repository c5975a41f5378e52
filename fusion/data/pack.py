"""Stage packs: a stage's fixed subset of the cache, resized once, memory-mapped.

A curriculum stage trains on `quantity` crops per identity at one resolution
for thousands of steps; decoding and resizing PNGs in every step would starve
the GPU. A pack does that work once: the subset is drawn with a seeded
permutation (so packs of later, smaller stages are subsets of earlier ones),
resized (area filter down; Lanczos up where the cache is smaller than the
stage, the resolution enhancement step) and stored as .npy arrays that data
loader workers memory-map with no decoding. Packs are keyed by everything
they depend on and reused; each builder stages in a folder of its own and renames it
into place, so a killed build leaves nothing that looks finished.
"""

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from fusion.data.cache import IdentityCache
from fusion.errors import UserError, check_choice
from fusion.faces.align import rescaled_points
from fusion.faces.features import FEATURES, feature_maps
from fusion.faces.hull import polygon_mask
from fusion.io.atomic import staging_beside
from fusion.io.image import encode, read_image

#: Bumped when a pack's content changes for the same spec and cache, so older packs are rebuilt
#: (2: registration at pixel centres; 3: float crops sRGB-encoded).
PACK_FORMAT = 4


class NoCropsError(UserError, ValueError):
    """An identity with no crops of the split a pack asks for: prepare kept none, or the holdout leaves none."""


@dataclass(frozen=True)
class PackSpec:
    """Which crops (quantity per identity, seed, split) at which resolution."""

    resolution: int
    quantity: int
    seed: int = 0
    split: str = "train"
    #: the last `holdout` share of every source's frames is held out for validation
    holdout: float = 0.1

    def __post_init__(self):
        check_choice("split", self.split, ("train", "val"))
        if self.resolution < 4 or self.quantity < 1:
            raise ValueError(f"need resolution >= 4 and quantity >= 1, got {self.resolution}, {self.quantity}")


def split_records(records: list[dict], split: str, holdout: float) -> list[dict]:
    """Train or held-out records: the tail of each source is held out.

    A contiguous tail, not random frames: neighbouring video frames are near
    duplicates, so randomly held-out frames would measure memory, not skill.

    >>> recs = [{"source": "a", "frame": i} for i in range(10)]
    >>> [r["frame"] for r in split_records(recs, "val", 0.2)]
    [8, 9]
    """
    by_source: dict[str, list[dict]] = {}
    for record in records:
        by_source.setdefault(record["source"], []).append(record)
    chosen = []
    for items in by_source.values():
        items.sort(key=lambda r: r["frame"])
        cut = len(items) - int(round(len(items) * holdout)) if holdout else len(items)
        chosen.extend(items[:cut] if split == "train" else items[cut:])
    return chosen


def training_records(cache: Path, identity: str, holdout: float) -> list[dict]:
    """The records of `identity`'s crops in `cache` that training drew from (`split_records`: each source's tail
    held out), refused where none is left."""
    index = IdentityCache(cache, identity).index()
    records = split_records(index, "train", holdout)
    if not records:
        raise NoCropsError(f"identity {identity!r} has no training crops in the cache {cache} (holdout={holdout} "
                           f"of its {len(index)} crops); pass the holdout the model was trained with")
    return records


def pack_dtype(dtypes: set[str]) -> np.dtype:
    """uint8 if every crop is 8-bit, uint16 if any is 16-bit, float16 if any is float."""
    if any(d.startswith("float") for d in dtypes):
        return np.dtype(np.float16)
    return np.dtype(np.uint16) if "uint16" in dtypes else np.dtype(np.uint8)


def _convert(image: np.ndarray, dtype: np.dtype, working_space: str | None = None) -> np.ndarray:
    """A crop in the pack's `dtype`, in the network's encoding: float crops through the sRGB curve unless they
    hold a named working space's values already (`fusion.io.colorspace`)."""
    if image.dtype == dtype:
        return image
    if dtype == np.uint16:
        return image.astype(np.uint16) * 257
    return (encode(image) if working_space is None else image).astype(dtype)


def resize_face(crop: np.ndarray, polygon, landmarks, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crop (area filter down, Lanczos up), its mask and its landmarks at `resolution` px.

    Points are mapped as resize maps pixel centres (`rescaled_points`).

    >>> crop = np.zeros((4, 4, 3), np.uint8)
    >>> resize_face(crop, [[0, 0], [3, 0], [3, 3]], [[0.0, 1.5]], 2)[2].tolist()
    [[-0.25, 0.5]]
    """
    scale = np.array([resolution / crop.shape[1], resolution / crop.shape[0]])
    to_stage = lambda points: rescaled_points(points, scale)  # noqa: E731
    interpolation = cv2.INTER_AREA if scale[1] <= 1 else cv2.INTER_LANCZOS4
    image = cv2.resize(crop, (resolution, resolution), interpolation=interpolation)
    return image, polygon_mask(to_stage(polygon), resolution), to_stage(landmarks)


class StagePack:
    """A built pack: memory-mapped arrays plus the identity names.

    images (N, R, R, 3), masks (N, R, R) uint8 0..255, features (N, R, R, 3) uint8 0..255 (the
    eyes, brows and mouth maps of `fusion.faces.features`, made once here so a landmark-weighted loss does
    no landmark work per step), landmarks (N, 68, 2) float32 in pack pixels, identity (N,) int64 indices
    into `identities`.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text())
        self.identities: list[str] = meta["identities"]
        self.keys: list[str] = meta["keys"]
        self.spec = PackSpec(**meta["spec"])
        self.images = np.load(folder / "images.npy", mmap_mode="r")
        self.masks = np.load(folder / "masks.npy", mmap_mode="r")
        self.features = np.load(folder / "features.npy", mmap_mode="r")
        self.landmarks = np.load(folder / "landmarks.npy")
        self.identity = np.load(folder / "identity.npy")

    def __len__(self) -> int:
        return len(self.keys)


def _no_crops(cache_root: Path, identity: str, crops: int, spec: PackSpec) -> str:
    """One line on an identity with no crops of `spec.split`: which one, in which cache, and what to do."""
    if not crops:
        return (f"identity {identity!r} has no crops in the cache {cache_root}: prepare found no usable face in "
                f"its footage; run prepare on footage where its face is visible, or leave {identity!r} out of the "
                "identities")
    return (f"identity {identity!r} has no {spec.split} crops in the cache {cache_root}: holdout={spec.holdout} "
            f"of its {crops} crops leaves none; prepare more footage of it or change the holdout")


def build_pack(cache_root: str | Path, identities: list[str], spec: PackSpec, workers: int = 4) -> StagePack:
    """Build (or reuse) the pack of `spec` over `identities`."""
    cache_root = Path(cache_root)
    caches = [IdentityCache(cache_root, name) for name in identities]
    indexes = [cache.index() for cache in caches]
    digest = hashlib.sha256(json.dumps({
        "format": PACK_FORMAT, "spec": asdict(spec), "identities": identities,
        "index": [hashlib.sha256((c.folder / "index.json").read_bytes()).hexdigest() for c in caches],
    }, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_root / "packs" / f"{spec.split}_{spec.resolution}px_{spec.quantity}_{digest}"
    if (folder / "meta.json").is_file():
        return StagePack(folder)

    chosen: list[tuple[int, IdentityCache, dict]] = []
    for number, (cache, index) in enumerate(zip(caches, indexes)):
        pool = split_records(index, spec.split, spec.holdout)
        if not pool:
            raise NoCropsError(_no_crops(cache_root, cache.identity, len(index), spec))
        order = np.random.default_rng([spec.seed, number]).permutation(len(pool))
        chosen.extend((number, cache, pool[i]) for i in sorted(order[:spec.quantity]))

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_beside(folder)  # its own, so jobs building the same pack at once never share files
    r = spec.resolution
    dtype = pack_dtype({record["dtype"] for _, _, record in chosen})
    images = np.lib.format.open_memmap(tmp / "images.npy", "w+", dtype, (len(chosen), r, r, 3))
    masks = np.lib.format.open_memmap(tmp / "masks.npy", "w+", np.uint8, (len(chosen), r, r))
    features = np.lib.format.open_memmap(tmp / "features.npy", "w+", np.uint8, (len(chosen), r, r, len(FEATURES)))
    landmarks = np.zeros((len(chosen), 68, 2), np.float32)

    def load(i: int) -> None:
        _, cache, record = chosen[i]
        crop = read_image(cache.folder / record["crop"])
        image, masks[i], landmarks[i] = resize_face(crop, record["mask_polygon"], record["landmarks"], r)
        images[i] = _convert(image, dtype, record.get("working_space"))
        features[i] = feature_maps(landmarks[i], r)

    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(load, range(len(chosen))))
    images.flush()
    masks.flush()
    features.flush()
    np.save(tmp / "landmarks.npy", landmarks)
    np.save(tmp / "identity.npy", np.array([n for n, _, _ in chosen], np.int64))
    (tmp / "meta.json").write_text(json.dumps({
        "spec": asdict(spec), "identities": identities, "keys": [f"{c.identity}/{rec['key']}" for _, c, rec in chosen],
    }))
    try:
        tmp.rename(folder)
    except OSError:
        if not (folder / "meta.json").is_file():
            raise
        shutil.rmtree(tmp)  # another process finished the same pack first
    return StagePack(folder)
