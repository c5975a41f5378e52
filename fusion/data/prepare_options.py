"""How `prepare` runs (`PrepareOptions`) and the `prepare.py` command's schema on them (`PrepareConfig`),
checked when made, with no torch: a wrong setting is refused before preparing's modules load."""

from dataclasses import dataclass, field
from typing import Any, Optional

from fusion.errors import refuse_bad_values
from fusion.io.colorspace import check_colorspace, config_name


@dataclass
class PrepareOptions:
    """How to run, as opposed to what the crops are (CropSettings); impossible values are refused when made."""

    #: processes; 0 = all cores
    workers: int = 0
    #: frames per work unit
    chunk: int = 64
    #: px; smaller faces are skipped
    min_face_size: int = 64
    #: share of the face mask allowed outside the frame
    max_outside: float = 0.05
    #: px; frames are shrunk to this for detection only
    detect_size: int = 320
    #: crops per identity in contact_sheet.png (0 = none)
    contact_sheet: int = 24
    #: the footage's OpenColorIO colorspace (e.g. ACEScg, ARRI LogC3 (EI800)), converted to the crops' working
    #: space (crop.working_space); null: 8/16-bit taken as sRGB-encoded, float as linear Rec.709
    colorspace: str | None = None
    #: the OCIO config naming the colorspaces; null: $OCIO, else OCIO's built-in studio config
    ocio_config: str | None = None

    def __post_init__(self):
        problems = {
            "workers": (self.workers < 0, "processes must be >= 0 (0 = all cores)"),
            "chunk": (self.chunk < 1, "frames per work unit must be >= 1 (e.g. 64)"),
            "min_face_size": (self.min_face_size < 0, "the smallest face to keep must be >= 0 px (e.g. 64)"),
            "max_outside": (not 0 <= self.max_outside <= 1, "the share of the mask outside the frame must be in [0, 1]"),
            "detect_size": (self.detect_size < 64, "the detection size must be >= 64 px (e.g. 320)"),
            "contact_sheet": (self.contact_sheet < 0, "crops in the contact sheet must be >= 0 (0 = none)"),
        }
        refuse_bad_values(self, problems)
        if self.colorspace is not None:
            check_colorspace("colorspace", self.colorspace, config_name(self.ocio_config))


@dataclass
class PrepareConfig(PrepareOptions):
    """`prepare.py`: footage in, the cache of the `crop` settings out."""

    paths: Any = field(default_factory=dict)
    crop: Any = field(default_factory=dict)
    #: footage/<identity>/ folders; null prepares the built-in demo footage.
    footage: Optional[str] = None
    #: the cache goes in <cache_dir>/<resolution>px_<landmarks>_<digest>/, where train finds it
    cache_dir: str = "${paths.cache_dir}"
    #: a cache folder of your own instead
    cache_folder: Optional[str] = None
    #: identity names to prepare; null prepares every folder under footage.
    identities: Optional[list[str]] = None
