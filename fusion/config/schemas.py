"""Schema of `swap.py`'s config: a typo or a wrong type in an override is an error.

It extends the options dataclass the swap runs with, so the composed config
becomes those options (`fusion.instantiate.to_schema`) with no key copied by
hand; `prepare.py`'s schema lives beside its command in the same manner.
"""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from fusion.swap.pipeline import SwapOptions


@dataclass
class SwapConfig(SwapOptions):
    """`swap.py`: a trained identity's face into a plate, with a compositor's options."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    identity: str = MISSING
    input: str = MISSING
    output: str = MISSING
