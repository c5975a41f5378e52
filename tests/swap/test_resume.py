"""A render killed part way resumes from its last finished frame: run again, it takes over the frames the
killed run wrote (whole files only: a half-written one is dropped) and swaps the rest, and the result is the render made in one go."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Swaps `plates` into `out` and dies (as a SLURM time limit or a lost node would) at the third frame.
KILLED_AT_THIRD_FRAME = """
import os, sys, time
from fusion.swap import pipeline
composite = pipeline.composite_frame
calls = []
def dying(frame, *rest):
    calls.append(frame.index)
    if len(calls) == 3:
        time.sleep(1)  # frames 1 and 2 are written meanwhile, the way a long render's earlier frames are
        os._exit(9)
    return composite(frame, *rest)
pipeline.composite_frame = dying
pipeline.swap(sys.argv[1], sys.argv[2], sys.argv[3], "hopper", pipeline.SwapOptions(write_matte=True, batch_size=1))
"""


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_a_killed_render_resumes_from_its_last_finished_frame(checkpoint, plates, tmp_path):
    from fusion.swap.pipeline import SwapOptions, swap

    whole = tmp_path / "whole"
    swap(plates, whole, checkpoint, "hopper", SwapOptions(write_matte=True, batch_size=1))

    out = tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_THIRD_FRAME, str(plates), str(out), str(checkpoint)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert not out.exists() and len(list(tmp_path.glob(".out.fusion.partial-*"))) == 1  # nothing in place yet

    report = swap(plates, out, checkpoint, "hopper", SwapOptions(write_matte=True, batch_size=1))
    assert report.resumed == 2 and report.frames == 4 and report.swapped == 3  # as in one go: no face in the 4th
    assert digest(out) == digest(whole) and digest(tmp_path / "out_matte") == digest(tmp_path / "whole_matte")
    assert not list(tmp_path.glob(".*.fusion.partial-*"))


@pytest.mark.slow
def test_another_render_does_not_take_over_a_killed_ones_frames(checkpoint, plates, tmp_path):
    from fusion.swap.pipeline import SwapOptions, swap

    out = tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_THIRD_FRAME, str(plates), str(out), str(checkpoint)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    report = swap(plates, out, checkpoint, "astronaut", SwapOptions(write_matte=True, batch_size=1))
    assert report.resumed == 0 and report.swapped + len(report.no_face) == 4
    assert not list(tmp_path.glob(".*.fusion.partial-*"))  # the killed run's staging is gone
