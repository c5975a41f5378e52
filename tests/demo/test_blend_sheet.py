"""`python -m fusion.demo.blend_sheet`: the blend contact sheet."""

import subprocess
import sys

import cv2
import pytest


@pytest.mark.slow
def test_compare_writes_the_contact_sheet(tmp_path):
    from fusion.demo.blend_sheet import COLUMNS, LABEL_HEIGHT

    out = tmp_path / "sheet.png"
    subprocess.run([sys.executable, "-m", "fusion.demo.blend_sheet", "--out", str(out), "--resolution", "128"], check=True)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (2 * (128 + LABEL_HEIGHT), len(COLUMNS) * 128, 3)
