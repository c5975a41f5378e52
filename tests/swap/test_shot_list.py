"""A shot list: `python swap.py -m input=A,B ...` renders each shot into its own output (named by the
`fusion_shot` resolver), and run again skips the shots already rendered as asked."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_shot_list_renders_each_shot_once(checkpoint, two_plates, tmp_path):
    shots = [shutil.copytree(two_plates, tmp_path / "plates" / name) for name in ("sc01", "sc02")]
    renders = tmp_path / "renders"
    command = [sys.executable, "swap.py", "-m", f"checkpoint={checkpoint}", "identity=hopper", "device=cpu",
               f"input={shots[0]},{shots[1]}", f"output='{renders}/${{fusion_shot:${{input}}}}'",
               f"paths.root_dir={tmp_path}"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(p.name for p in renders.iterdir()) == ["sc01", "sc01.json", "sc02", "sc02.json"]
    assert sorted(p.name for p in (renders / "sc02").iterdir()) == ["plate.0001.png", "plate.0002.png"]
    jobs = sorted((tmp_path / "outputs" / "swap" / "multirun").glob("*/*/swap.log"))
    assert len(jobs) == 2, "each shot logs in its own job folder"
    made = {path: path.stat().st_mtime_ns for path in renders.rglob("*")}

    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("is already rendered as asked") == 2 and "overwrite=true renders it again" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in renders.rglob("*")} == made
