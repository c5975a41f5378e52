"""coverage_report.py: a plate's frames against an identity's training crops, on the demo cache's two identities, a photo
each: hopper (mouth closed, about 0.02; pitch about 3 degrees) and the astronaut (lips parted, about 0.14; pitch
about 5 degrees). The two faces lie about one unit apart, so the reports of the mixed plate take half a unit as
the threshold. Hopper's footage reads her mouth open up to 0.26 in its first frames: dlib's misfits there, which
her range honestly includes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusion.errors import OutputError
from fusion.eval.coverage import coverage
from fusion.eval.options import CoverageOptions
from fusion.io.image import read_image, write_image
from fusion.swap.pipeline import SwapOptions, swap
from fusion.swap.summary import swap_summary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed_plate(tmp_path_factory, photos) -> Path:
    """plate.1001-1003: hopper; 1004-1006: the astronaut; 1007: hopper mirrored; 1008: no face."""
    folder = tmp_path_factory.mktemp("coverage") / "shot"
    faces = [photos["hopper"]] * 3 + [photos["astronaut"]] * 3 + [photos["hopper"][:, ::-1]]
    for number, face in enumerate(faces, start=1001):
        write_image(folder / f"plate.{number}.png", np.ascontiguousarray(face))
    write_image(folder / "plate.1008.png", np.full((512, 512, 3), 90, np.uint8))
    return folder


@pytest.fixture(scope="module")
def covered(checkpoint, demo_cache, mixed_plate, tmp_path_factory):
    """identity -> (output folder, report) of the mixed plate against that identity's footage."""
    root = tmp_path_factory.mktemp("coverage")
    return {name: (root / name, coverage(checkpoint, name, mixed_plate, root / name, CoverageOptions(threshold=0.5),
                                         cache_dir=demo_cache / "data" / "cache"))
            for name in ("hopper", "astronaut")}


def rows(out: Path) -> dict[int, dict]:
    return {row["frame"]: row for row in json.loads((out / "coverage.json").read_text())["frames"]}


def test_frames_of_an_identitys_own_face_are_inside_its_footage(covered):
    for name, own in (("hopper", (1001, 1002, 1003)), ("astronaut", (1004, 1005, 1006))):
        frames = rows(covered[name][0])
        assert not any(frames[n]["outside"] for n in own)
        assert max(frames[n]["distance"] for n in own) < 0.3  # the demo's identities are one photo each


def test_a_closed_mouth_the_footage_never_shows_is_outside_and_said_in_words(covered):
    out, report = covered["astronaut"]  # her lips are parted in every frame, hopper's closed
    frames = rows(out)
    assert all(frames[n]["outside"] and "mouth" in frames[n]["named"] for n in (1001, 1002, 1003))
    assert report.findings[0] == "frames 1001-1003: mouth closed to 0.02, astronaut's footage never closes below 0.12"


def test_a_head_tilted_beyond_the_footage_is_outside_by_its_pose(covered):
    out, report = covered["hopper"]
    frames = rows(out)
    assert all(frames[n]["outside"] and frames[n]["named"] == ["pitch"] for n in (1004, 1005, 1006))
    assert report.findings == ["frames 1004-1006: pitch 5 degrees, hopper's footage reaches 2"]
    assert report.headline == "3 of 7 frames with a face lie outside hopper's footage, in 1 range"
    out, report = covered["astronaut"]  # hopper mirrored: her head tilts the other way
    assert report.findings[1].startswith("frame 1007: pitch -2 degrees, astronaut's footage reaches 3; ")
    assert report.headline == "4 of 7 frames with a face lie outside astronaut's footage, in 2 ranges"


def test_the_json_holds_the_ranges_the_units_and_every_frame(covered):
    out, report = covered["astronaut"]
    written = json.loads((out / "coverage.json").read_text())
    assert set(written) == {"checkpoint", "input", "cache", "holdout", "identity", "units", "threshold", "summary",
                            "footage", "plate", "outside", "frames"}
    assert written["units"] == {"yaw": 10.0, "pitch": 10.0, "mouth": 0.1, "eyes": 0.1}
    assert written["footage"]["crops"] == 48 - round(48 * 0.1)  # the training split: each source's tail held out
    assert 0.1 < written["footage"]["ranges"]["mouth"][0] < 0.12 < written["footage"]["ranges"]["mouth"][1] < 0.16
    assert written["plate"]["ranges"]["mouth"][0] < 0.03 and written["plate"]["no_face"] == [1008]
    assert [(r["first"], r["last"]) for r in written["outside"]] == [(1001, 1003), (1007, 1007)]
    assert [r["words"] for r in written["outside"]] == report.findings
    assert [row["frame"] for row in written["frames"]] == list(range(1001, 1009))
    assert written["frames"][-1] == {"frame": 1008, "yaw": None, "pitch": None, "mouth": None, "eyes": None,
                                     "distance": None, "outside": False, "named": [], "nearest": None}


def test_the_timeline_and_the_contact_sheet_are_pictures_of_the_worst_frames(covered):
    out, _ = covered["hopper"]
    assert read_image(out / "coverage_timeline.png").shape[:2] == (500, 1000)
    sheet = read_image(out / "coverage_sheet.png")
    assert sheet.shape == (7 * (192 + 24), 2 * 192, 3)  # every frame with a face, at most 8: a row each
    assert sheet[24:216, :192].std() > 20 and sheet[24:216, 192:].std() > 20  # faces, not blank tiles


def test_an_earlier_report_is_replaced_only_when_asked(covered, checkpoint, demo_cache, mixed_plate):
    out, _ = covered["hopper"]
    before = (out / "coverage.json").read_bytes()
    with pytest.raises(OutputError, match="pass overwrite=true"):
        coverage(checkpoint, "hopper", mixed_plate, out, cache_dir=demo_cache / "data" / "cache")
    assert (out / "coverage.json").read_bytes() == before
    with pytest.raises(OutputError, match="lies inside the input"):
        coverage(checkpoint, "hopper", mixed_plate, mixed_plate / "report", cache_dir=demo_cache / "data" / "cache")


def test_frames_cuts_the_plate_by_number(checkpoint, demo_cache, mixed_plate, tmp_path):
    report = coverage(checkpoint, "astronaut", mixed_plate, tmp_path / "out", CoverageOptions(frames="1004-1006"),
                      cache_dir=demo_cache / "data" / "cache")
    assert report.numbers == [1004, 1005, 1006] and not report.coverage.outside.any()
    assert report.headline == "all 3 frames with a face lie within astronaut's footage"


def test_the_swap_says_in_a_line_how_many_frames_lie_outside(checkpoint, demo_cache, mixed_plate, tmp_path):
    options = SwapOptions(frames="1006-1007", device="cpu")  # the astronaut, then hopper mirrored: 1.3 units away
    report = swap(mixed_plate, tmp_path / "swapped", checkpoint, "astronaut", options, demo_cache / "data" / "cache")
    assert report.coverage == "1 of 2 frames with a face lie outside astronaut's footage, in 1 range"
    assert swap_summary(report, tmp_path / "swapped", checkpoint, False)[1] == f"coverage: {report.coverage} " \
                                                                              "(python coverage_report.py names them)"
    elsewhere = swap(mixed_plate, tmp_path / "again", checkpoint, "astronaut", options, tmp_path / "no caches here")
    assert elsewhere.coverage is None  # a render node without the cache says nothing of it


@pytest.mark.slow
def test_the_command_prints_the_words_and_the_paths(checkpoint, demo_cache, mixed_plate, tmp_path):
    done = subprocess.run([sys.executable, "coverage_report.py", f"checkpoint={checkpoint}", "identity=hopper",
                           f"input={mixed_plate}", f"output={tmp_path / 'out'}", "frames=1003-1005", "threshold=0.5",
                           f"paths.root_dir={tmp_path}", f"paths.cache_dir={demo_cache / 'data' / 'cache'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-5:] == [
        "2 of 3 frames with a face lie outside hopper's footage, in 1 range",
        "frames 1004-1005: pitch 5 degrees, hopper's footage reaches 2",
        f"report: {tmp_path / 'out' / 'coverage.json'}", f"timeline: {tmp_path / 'out' / 'coverage_timeline.png'}",
        f"contact sheet: {tmp_path / 'out' / 'coverage_sheet.png'}"]
