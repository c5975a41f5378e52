"""The per-identity face cache: aligned crops plus an index.

Layout of `cache/<identity>/`:
    settings.json        what the crops depend on; a mismatch is an error
    landmarks/*.json     per-chunk detection results (pass 1)
    crops/<key>.png|exr  aligned crops at the cache resolution (pass 2)
    records/<key>.json   one per crop, written after the crop: its presence
                         means the frame is finished, which makes runs resumable
    index.json           all records in frame order, rebuilt at the end of a run
Every file is written atomically, so a killed run loses at most the frames in
flight and never leaves a half-written file under a final name.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fusion.errors import ConfigError, UserError, check_choice, refuse_bad_values
from fusion.faces.align import ALIGNMENTS
from fusion.faces.landmarks import LANDMARK_BACKENDS, resolve_backend
from fusion.io.atomic import remove_stale_partials, write_json

#: The smallest crop worth caching: the first curriculum stage's 16 px.
MIN_RESOLUTION = 16
#: Landmark re-detections averaged per frame: the jitter pattern has 8 boxes.
MAX_JITTER = 8


@dataclass(frozen=True)
class CropSettings:
    """Everything a crop's pixels depend on; impossible values are refused when made.

    >>> CropSettings(resolution=-1)
    Traceback (most recent call last):
    ...
    fusion.errors.ConfigError: crop.resolution=-1: crops must be at least 16 px (e.g. crop.resolution=512)
    """

    #: crop size in px (stages above it upsample; at least 16)
    resolution: int = 512
    #: size of the face in the crop (template units -> crop fraction)
    face_scale: float = 0.5
    #: similarity | affine
    alignment: str = "similarity"
    #: hull mask growth about its centroid
    mask_enlarge: float = 0.1
    #: fan (face-alignment, needs its downloaded weights) | dlib (offline) | auto: fan if present
    landmarks: str = "auto"
    #: landmark re-detections on perturbed boxes, averaged (1 = off)
    jitter: int = 4
    #: frames of temporal landmark smoothing in video (1 = off)
    smooth_window: int = 9
    #: the OpenColorIO colorspace the crops are in, the network's working space (e.g. ACEScct; in the config
    #: of ocio_config=, $OCIO or OCIO's built-in one); null: sRGB-encoded linear Rec.709, fusion's before OCIO
    working_space: str | None = None

    def __post_init__(self):
        problems = {
            "resolution": (self.resolution < MIN_RESOLUTION,
                           f"crops must be at least {MIN_RESOLUTION} px (e.g. crop.resolution=512)"),
            "face_scale": (not 0 < self.face_scale <= 1, "the face's share of the crop must be in (0, 1] (e.g. 0.5)"),
            "mask_enlarge": (not 0 <= self.mask_enlarge <= 1, "the hull's growth must be in [0, 1] (e.g. 0.1)"),
            "jitter": (not 1 <= self.jitter <= MAX_JITTER, f"re-detections per frame must be 1 to {MAX_JITTER}"),
            "smooth_window": (self.smooth_window < 1, "frames of smoothing must be at least 1 (1 = off)"),
        }
        refuse_bad_values(self, problems, "crop.")
        check_choice("crop.alignment", self.alignment, ALIGNMENTS)
        check_choice("crop.landmarks", self.landmarks, LANDMARK_BACKENDS)

    def resolved(self) -> "CropSettings":
        """These settings with `landmarks=auto` replaced by the backend it stands for on this machine,
        so that a cache, and the checkpoints trained on it, record what made the crops."""
        return replace(self, landmarks=resolve_backend(self.landmarks))

    def recorded(self) -> dict:
        """These settings as a cache, a checkpoint and an export record them: every one, less a working space
        left at its default, so caches made before it existed keep their folder and settings.json, and what
        this version writes an older one still reads."""
        settings = asdict(self)
        if self.working_space is None:
            del settings["working_space"]
        return settings

    @property
    def folder_name(self) -> str:
        """The cache folder for these settings under a cache root: every setting `recorded` in its digest.

        >>> CropSettings(resolution=512, landmarks="dlib").folder_name
        '512px_dlib_bfb0bc72'
        >>> CropSettings(resolution=512, landmarks="dlib", working_space="ACEScct").folder_name
        '512px_dlib_b0b8bb64'
        """
        digest = hashlib.sha256(json.dumps(self.recorded(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.resolution}px_{self.landmarks}_{digest}"


def cache_location(cache_dir: str | Path, settings: CropSettings) -> Path:
    """Where the crops of `settings` live under the cache root: prepare, train and evaluate meet there."""
    return Path(cache_dir) / settings.resolved().folder_name


def model_cache(cache: str | Path | None, cache_dir: str | Path | None, settings: CropSettings) -> Path:
    """The prepared cache a model was trained from: `cache` as given, else the one for its crop `settings`
    under `cache_dir`; an error that says what to pass when neither is given or the folder is missing."""
    if cache is None and cache_dir is None:
        raise ConfigError("give the prepared cache (cache_folder=PATH) or the folder of caches to find it in")
    cache = Path(cache) if cache is not None else cache_location(cache_dir, settings)
    if not cache.is_dir():
        raise FileNotFoundError(f"cache {cache} does not exist; prepare it (python prepare.py with the model's "
                                f"crop settings) or pass cache_folder=PATH, the cache the model was trained from")
    return cache


class CacheMismatchError(UserError, RuntimeError):
    """A cache folder built with other settings than the ones asked for."""


class IdentityCache:
    """Paths and bookkeeping of one identity's cache folder."""

    def __init__(self, root: str | Path, identity: str):
        self.identity = identity
        self.folder = Path(root) / identity

    def claim(self, settings: CropSettings) -> None:
        """Create the folder for `settings`, or check an existing one matches.

        Temporary files that killed runs left behind are removed; those of
        another prepare writing this cache right now (two jobs started on one
        cache) are kept: every file it writes lands whole and means the same.
        """
        remove_stale_partials(self.folder)
        path = self.folder / "settings.json"
        wanted = settings.recorded()
        if path.is_file():
            found = json.loads(path.read_text())
            if found != wanted:
                changed = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
                raise CacheMismatchError(
                    f"{self.folder} was prepared with other settings {changed} (cached, asked); "
                    f"use another cache folder or delete {self.folder} to rebuild it")
        else:
            write_json(path, wanted)

    def landmarks_path(self, source_key: str, start: int) -> Path:
        """Pass 1's landmarks for the chunk of `source_key` from frame `start`: a file per chunk, so chunks resume alone."""
        return self.folder / "landmarks" / f"{source_key}.{start:07d}.json"

    def crop_path(self, key: str, float_data: bool) -> Path:
        """Where frame `key`'s crop goes: EXR for float footage, PNG otherwise, so a crop keeps its footage's depth."""
        return self.folder / "crops" / f"{key}.{'exr' if float_data else 'png'}"

    def record_path(self, key: str) -> Path:
        """Frame `key`'s record, written after its crop: it means "frame done", which is how prepare resumes."""
        return self.folder / "records" / f"{key}.json"

    def _records(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.folder / "records").glob("*.json"))]

    def check_source_keys(self, source_keys: dict[str, str]) -> None:
        """Refuse a cache where a record of one source sits under another current source's key.

        Older versions gave two sources whose names differ only in characters a file name
        cannot hold (`take 1`, `take_1`) one key, so one's landmarks and crops stood in for the
        other's: such a cache cannot be resumed, only rebuilt. `source_keys` maps each current
        source's name to its key.
        """
        owners = {key: name for name, key in source_keys.items()}
        for record in self._records():
            owner = owners.get(record["key"].rsplit(".", 1)[0])
            if owner is not None and owner != record["source"]:
                raise CacheMismatchError(
                    f"{self.record_path(record['key'])} holds a frame of {record['source']!r} under the key of "
                    f"{owner!r}: this cache was made by a version that mixed up sources with similar names; "
                    f"delete {self.folder} and run prepare again")

    def write_index(self, source_keys: dict[str, str]) -> list[dict]:
        """Gather the finished records of the current sources (name -> key) into index.json, in source
        and frame order. Records of sources no longer in the footage, or made under an older key, stay
        on disk but are not indexed, so training never sees them."""
        records = [r for r in self._records()
                   if r["source"] in source_keys and r["key"] == frame_key(source_keys[r["source"]], r["frame"])]
        records.sort(key=lambda r: (r["source"], r["frame"]))
        write_json(self.folder / "index.json", records)
        return records

    def index(self) -> list[dict]:
        """The identity's records in source and frame order (index.json); missing, an error that says to run prepare."""
        path = self.folder / "index.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run `python prepare.py` for identity {self.identity!r} first")
        return json.loads(path.read_text())


def frame_key(source_key: str, frame: int) -> str:
    """Crop and record name of a frame.

    >>> frame_key("take1.mov", 12)
    'take1.mov.0000012'
    """
    return f"{source_key}.{frame:07d}"
