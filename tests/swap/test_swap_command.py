"""`python swap.py` as a compositor runs it: progress as log lines when piped, and what to do next."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_swap_py_says_what_it_wrote_and_what_comes_next(checkpoint, two_plates, tmp_path):
    output = tmp_path / "swapped"
    result = subprocess.run([sys.executable, "swap.py", f"checkpoint={checkpoint}", "identity=hopper",
                             f"input={two_plates}", f"output={output}", f"paths.root_dir={tmp_path}", "device=cpu"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[-1] == f"to score the model on held-out frames: python evaluate.py checkpoint={checkpoint}"
    assert f"wrote {output}" in lines and sorted(p.name for p in output.iterdir()) == ["plate.0001.png", "plate.0002.png"]
    assert "swap: 2/2 (100%) frame" in result.stdout and "\r" not in result.stdout + result.stderr
