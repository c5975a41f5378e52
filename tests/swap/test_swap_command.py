"""`python swap.py` as a compositor runs it: progress as log lines when piped, and what to do next."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_swap_py_says_what_it_wrote_and_what_comes_next(checkpoint, two_plates, tmp_path):
    output = tmp_path / "swapped"
    result = subprocess.run([sys.executable, "swap.py", f"checkpoint={checkpoint}", "identity=hopper",
                             f"input={two_plates}", f"output={output}", f"paths.root_dir={tmp_path}", "device=cpu"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[-1] == f"to score the model on held-out frames: python evaluate.py checkpoint={checkpoint}"
    assert f"how it was made: {output}.json" in lines
    assert f"wrote {output}" in lines and sorted(p.name for p in output.iterdir()) == ["plate.0001.png", "plate.0002.png"]
    assert "swap: 2/2 (100%) frame" in result.stdout and "\r" not in result.stdout + result.stderr


def test_the_closing_lines_give_frames_speed_warnings_the_preview_and_the_next_command(tmp_path):
    from fusion.swap.pipeline import SwapReport
    from fusion.swap.summary import swap_summary

    report = SwapReport(frames=50, swapped=47, no_face=[3, 4, 40], seconds={"read": 1.0, "decode": 3.0, "write": 1.0},
                        warnings=["the tuning was made on another shot"])
    output = tmp_path / "shot.mp4"
    assert swap_summary(report, output, "run/last.ckpt", preview=True) == [
        "50 frames, 47 swapped, no face in 3: [3, 4, 40]",
        "10.0 frames/s (read 20%, decode 60%, write 20%)",
        f"wrote {output}",
        f"how it was made: {tmp_path / 'shot.mp4.json'}",
        "warning: the tuning was made on another shot",
        f"side by side: {tmp_path / 'shot_preview.mp4'}",
        "to score the model on held-out frames: python evaluate.py checkpoint=run/last.ckpt"]
    faceless = SwapReport(frames=30, swapped=0, no_face=list(range(30)), seconds={"read": 2.0})
    lines = swap_summary(faceless, output, "run/last.ckpt", preview=False)
    assert lines[0] == f"30 frames, 0 swapped, no face in 30: {list(range(20))}"  # the first 20 listed
    assert not any(line.startswith(("side by side", "warning")) for line in lines)
