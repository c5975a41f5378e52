"""The swap's one line on coverage: how many of the plate's frames lie outside the poses and expressions of the
identity's training crops (`fusion.metrics.coverage`), from the landmarks the find stage found anyway.

The crops are those of the cache the checkpoint was trained on, found under
the caches' folder by its crop settings, with the data's default held-out
tail; where that cache is not on this machine (a render node given only the
checkpoint) the swap says nothing of coverage. `python coverage_report.py` gives the
frames in words, the plot and the contact sheet.
"""

from pathlib import Path

import numpy as np

from fusion.data.cache import CropSettings, cache_location
from fusion.data.pack import PackSpec, training_records
from fusion.metrics.coverage import measure_coverage
from fusion.metrics.performance import Performance, measure_performance


def coverage_line(landmarks: np.ndarray, identity: str, crop: CropSettings, cache_dir: str | Path) -> str | None:
    """How many frames with a face in (frames, 68, 2) `landmarks` lie outside `identity`'s training crops in the
    cache for `crop` under `cache_dir`; None where there is no such cache or no face."""
    if np.isnan(landmarks).all():
        return None
    cache = cache_location(cache_dir, crop)
    if not (cache / identity / "index.json").is_file():
        return None
    _, footage = training_footage(cache, identity, PackSpec.holdout)
    return measure_coverage(measure_performance(landmarks), footage).headline(identity)


def training_footage(cache: Path, identity: str, holdout: float) -> tuple[list[dict], Performance]:
    """`identity`'s training records in `cache` (each source's `holdout` tail left out) and their performance."""
    records = training_records(cache, identity, holdout)
    return records, measure_performance(np.array([record["landmarks"] for record in records], np.float64))
