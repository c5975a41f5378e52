"""Schema of `prepare.py`'s config: a typo in an override is an error, not a silent default."""

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class PrepareConfig:
    paths: Any = field(default_factory=dict)
    #: footage/<identity>/ folders; null prepares the built-in demo footage.
    footage: Optional[str] = None
    cache: str = "${paths.data_dir}/cache"
    #: identity names to prepare; null prepares every folder under footage.
    identities: Optional[list[str]] = None
    landmarks: str = "auto"
    cache_resolution: int = 1024
    face_scale: float = 0.5
    alignment: str = "similarity"
    mask_enlarge: float = 0.1
    jitter: int = 4
    smooth_window: int = 9
    workers: int = 0
    chunk: int = 64
    min_face_size: int = 64
    max_outside: float = 0.05
    detect_size: int = 320
    contact_sheet: int = 24
