"""Schema of `prepare.py`'s config: a typo in an override is an error, not a silent default.

The keys are flat for the command line; their defaults come from the
dataclasses that use them, so there is one place to change a default.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from fusion.data.cache import CacheSettings
from fusion.data.prepare import PrepareOptions


@dataclass
class PrepareConfig:
    paths: Any = field(default_factory=dict)
    #: footage/<identity>/ folders; null prepares the built-in demo footage.
    footage: Optional[str] = None
    cache: str = "${paths.data_dir}/cache"
    #: identity names to prepare; null prepares every folder under footage.
    identities: Optional[list[str]] = None
    landmarks: str = "auto"
    cache_resolution: int = CacheSettings.resolution
    face_scale: float = CacheSettings.face_scale
    alignment: str = CacheSettings.alignment
    mask_enlarge: float = CacheSettings.mask_enlarge
    jitter: int = CacheSettings.jitter
    smooth_window: int = CacheSettings.smooth_window
    workers: int = PrepareOptions.workers
    chunk: int = PrepareOptions.chunk
    min_face_size: int = PrepareOptions.min_face_size
    max_outside: float = PrepareOptions.max_outside
    detect_size: int = PrepareOptions.detect_size
    contact_sheet: int = PrepareOptions.contact_sheet
