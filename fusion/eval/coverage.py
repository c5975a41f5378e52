"""`coverage`: which frames of a plate ask an identity's decoder for a pose or expression its footage never shows.

Run before a swap, in stages a reader follows top to bottom: the footage
(the identity's training crops: the records of the cache the checkpoint was
trained on, less each source's held-out tail, split as training splits them,
`split_records`; their landmarks are in crop pixels, which keeps yaw, pitch and
the openness ratios); find (the plate's faces found as the swap's first pass
finds them, `find_plate_faces`, so the numbers describe what the swap will
see); measure (`measure_performance`, then each frame's nearest footage crop,
`fusion.metrics.coverage`, whose docstring gives the units and the threshold);
write coverage.json, a timeline plot and a contact sheet of the worst frames
beside their nearest crops, moved into place together (`StagedOutputs`).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusion.data.cache import CropSettings, IdentityCache, model_cache
from fusion.data.contact_sheet import draw_face
from fusion.errors import UserError
from fusion.eval.options import CoverageOptions
from fusion.eval.coverage_figures import pair_tile, plot_timeline
from fusion.faces.align import transform_points, warp_face
from fusion.io.atomic import StagedOutputs, write_json
from fusion.io.colorspace import ColorConversion
from fusion.io.footage import Source, read_frames, source_from_path
from fusion.io.image import read_image, write_image
from fusion.io.outputs import check_outputs
from fusion.metrics.coverage import QUANTITIES, SCALE, Coverage, measure_coverage, runs, value_ranges
from fusion.metrics.performance import measure_performance
from fusion.stopwatch import Stopwatch
from fusion.swap.coverage import training_footage
from fusion.swap.frames import PlateFrame, align_face, detector_copy, find_plate_faces
from fusion.swap.loader import load_swap_model

__all__ = ["CoverageReport", "coverage"]

#: What coverage writes into its output folder.
OUTPUTS = ("coverage.json", "coverage_timeline.png", "coverage_sheet.png")
#: Pixels a side of each face in the contact sheet.
TILE = 192


@dataclass
class CoverageReport:
    """What `coverage` found: the plate against `identity`'s footage, the outside frames in words, and the files
    it wrote."""

    identity: str
    coverage: Coverage
    #: the plate's frame numbers, one a row of `coverage.plate`
    numbers: list[int]
    #: the outside frames, a range a line (`Coverage.describe`)
    findings: list[str]
    written: list[Path] = field(default_factory=list)

    @property
    def headline(self) -> str:
        """One line: how many frames with a face lie outside the footage, and in how many ranges."""
        return self.coverage.headline(self.identity)

    def summary(self, shown: int = 20) -> list[str]:
        """The closing lines: the headline, the first `shown` ranges in words, and the files written."""
        more = len(self.findings) - shown
        return [self.headline, *self.findings[:shown],
                *([f"... and {more} more ranges in {self.written[0]}"] if more > 0 else []),
                f"report: {self.written[0]}", f"timeline: {self.written[1]}", f"contact sheet: {self.written[2]}"]


def frame_records(report: CoverageReport, records: list[dict]) -> list[dict]:
    """coverage.json's row per plate frame: its number, the quantities, its distance, whether it is outside, what
    put it there and its nearest training crop (None where no face was found)."""
    rows = []
    for i, number in enumerate(report.numbers):
        values = {name: None if np.isnan(v) else round(float(v), 4)
                  for name, v in zip(QUANTITIES, report.coverage.plate[i])}
        found = report.coverage.nearest[i] >= 0
        rows.append({"frame": number, **values,
                     "distance": round(float(report.coverage.distance[i]), 4) if found else None,
                     "outside": bool(report.coverage.outside[i]), "named": report.coverage.named(i),
                     "nearest": records[report.coverage.nearest[i]]["key"] if found else None})
    return rows


def report_json(report: CoverageReport, records: list[dict], inputs: dict) -> dict:
    """coverage.json: what was compared, the units, each side's ranges, the outside ranges in words, every frame."""
    coverage = report.coverage
    return {**inputs, "identity": report.identity, "units": dict(zip(QUANTITIES, SCALE.tolist())),
            "threshold": coverage.threshold, "summary": report.headline,
            "footage": {"crops": len(records), "ranges": value_ranges(coverage.footage)},
            "plate": {"frames": len(report.numbers), "ranges": value_ranges(coverage.plate),
                      "no_face": [n for n, i in zip(report.numbers, coverage.nearest) if i < 0]},
            "outside": [{"first": report.numbers[run.start], "last": report.numbers[run.stop - 1], "words": words}
                        for run, words in zip(runs(coverage.outside), report.findings)],
            "frames": frame_records(report, records)}


def contact_sheet(report: CoverageReport, source: Source, landmarks: np.ndarray, records: list[dict], cache: Path,
                  options: CoverageOptions, crop: CropSettings, colors: ColorConversion) -> np.ndarray:
    """The frames farthest from the footage (up to `options.sheet`), each a row: the plate's face aligned as the
    swap aligns it, beside its nearest training crop, landmarks and hull drawn."""
    coverage, folder = report.coverage, IdentityCache(cache, report.identity).folder
    found = np.flatnonzero(coverage.nearest >= 0)
    worst = found[np.argsort(-coverage.distance[found], kind="stable")][:options.sheet]
    rows = []
    for index in worst:
        frame = next(read_frames(source, int(index), int(index) + 1))[1]
        if isinstance(frame, Exception):
            raise frame
        face = align_face(landmarks[index], crop, TILE)
        copy = detector_copy(PlateFrame(int(index), frame.rgb, stored=frame), colors)
        plate_face = draw_face(warp_face(copy, face.matrix, TILE),
                               transform_points(landmarks[index].astype(np.float64), face.matrix),
                               transform_points(face.polygon, face.matrix), TILE)
        record = records[coverage.nearest[index]]
        nearest = draw_face(read_image(folder / record["crop"]), np.array(record["landmarks"]),
                            np.array(record["mask_polygon"]), TILE)
        state = "outside" if coverage.outside[index] else "inside"
        caption = (f"frame {report.numbers[index]}: {coverage.distance[index]:.2f}, {state} | "
                   f"{report.identity}'s nearest: frame {record['frame']}")
        rows.append(pair_tile(plate_face, nearest, caption))
    return np.concatenate(rows) if rows else np.full((TILE, 2 * TILE, 3), 32, np.uint8)


def coverage(checkpoint: str | Path, identity: str, plate: str | Path, output: str | Path,
             options: CoverageOptions = CoverageOptions(), overwrite: bool = False, *,
             cache: str | Path | None = None, cache_dir: str | Path | None = None) -> CoverageReport:
    """Compare every frame of `plate` with `identity`'s training crops in the cache `checkpoint` was trained on
    (`cache`, else the one for its crop settings under `cache_dir`); write `OUTPUTS` into `output` (replacing
    earlier ones only with `overwrite`); return the report."""
    source, out = source_from_path(plate, options.frames), Path(output)
    paths = [out / name for name in OUTPUTS]
    check_outputs(paths, [Path(checkpoint), source.path], overwrite)
    model = load_swap_model(checkpoint, "cpu")
    model.identity_index(identity)
    cache = model_cache(cache, cache_dir, model.crop)
    check_outputs(paths, [cache], overwrite)
    records, footage = training_footage(cache, identity, options.holdout)

    landmarks, colors = find_plate_faces(source, model.crop, options, Stopwatch())
    if np.isnan(landmarks).all():
        raise UserError(f"no face found in any frame of {plate}: nothing to compare with {identity}'s footage")
    measured = measure_coverage(measure_performance(landmarks), footage, options.threshold)
    numbers = [source.number(i) for i in range(source.frames)]
    findings = [measured.describe(run, numbers, identity) for run in runs(measured.outside)]
    report = CoverageReport(identity, measured, numbers, findings, paths)

    inputs = {"checkpoint": str(checkpoint), "input": str(plate), "cache": str(cache), "holdout": options.holdout}
    with StagedOutputs() as staged:
        write_json(staged.path(paths[0]), report_json(report, records, inputs))
        plot_timeline(staged.path(paths[1]), measured, numbers, identity)
        write_image(staged.path(paths[2]), contact_sheet(report, source, landmarks, records, cache, options,
                                                         model.crop, colors))
    return report
