"""FusionNet (shared encoder, per-identity decoders) and its levels; see docs/design.md (Network)."""

from fusion.model.fusion_net import FusionConfig, FusionNet, IdentityDecoder
from fusion.model.levels import DecoderBottom, DecoderLevel, EncoderBottom, EncoderLevel, FromRGB, ToRGB
from fusion.model.widths import level_resolution, level_width, resolution_level

__all__ = [
    "DecoderBottom",
    "DecoderLevel",
    "EncoderBottom",
    "EncoderLevel",
    "FromRGB",
    "FusionConfig",
    "FusionNet",
    "IdentityDecoder",
    "ToRGB",
    "level_resolution",
    "level_width",
    "resolution_level",
]
