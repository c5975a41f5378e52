"""Schema of `prepare.py`'s config: a typo in an override is an error, not a silent default.

The crop settings are the `cache` group (conf/cache); the run options are
flat for the command line, their defaults taken from PrepareOptions so that
there is one place to change a default.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from fusion.data.prepare import PrepareOptions


@dataclass
class PrepareConfig:
    paths: Any = field(default_factory=dict)
    cache: Any = field(default_factory=dict)
    #: footage/<identity>/ folders; null prepares the built-in demo footage.
    footage: Optional[str] = None
    cache_dir: str = "${paths.cache_dir}"
    cache_folder: Optional[str] = None
    #: identity names to prepare; null prepares every folder under footage.
    identities: Optional[list[str]] = None
    workers: int = PrepareOptions.workers
    chunk: int = PrepareOptions.chunk
    min_face_size: int = PrepareOptions.min_face_size
    max_outside: float = PrepareOptions.max_outside
    detect_size: int = PrepareOptions.detect_size
    contact_sheet: int = PrepareOptions.contact_sheet
