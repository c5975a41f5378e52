"""The whole chain on the shared talking-head clips: prepare, train to 128 px, swap d9 into d3 and back, evaluate.

A smoke budget (`curriculum=clips_quick`, minutes): it proves the parts fit
together on real footage, not the quality targets, which
`python train.py experiment=clips` and `python evaluate.py` measure. The
cache is prepared once (`clips_cache`), its faces checked first; train.py finds
every frame of it done. Both tests live in this file so that a parallel run
(one file a worker) prepares the clips once.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusion.eval.evaluate import EvaluateOptions, evaluate
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import read_image, write_image
from fusion.swap.pipeline import SwapOptions, swap

REPO = Path(__file__).resolve().parents[1]
PLATE_FRAMES = 12
#: the last 2% of each source, of the 10% training held out (data.holdout): it scores this model as 0.05 and 0.1
#: do (crop-space retrieval 0.797 at 0.02, 0.807 at 0.03 and 0.05; plate-scale 0.621 and 0.626 at 0.02 and 0.03;
#: the metrics of 0.05 and 0.1 within 0.02 of each other) in a fifth of the time, in crop space and at plate scale
EVAL_HOLDOUT = 0.02


@pytest.mark.slow
def test_shared_clips_yield_aligned_faces(clips_cache):
    """The four real talking-head clips (prepared once for this file): at least 95% of frames
    give a face."""
    _, report = clips_cache
    assert set(report["identities"]) == {"d3", "d9", "d10", "d14"}
    for name, result in report["identities"].items():
        assert result["frames_read"] > 300, name
        assert result["faces_kept"] >= 0.95 * result["frames_read"], (name, result)


@pytest.mark.slow
def test_clips_train_swap_evaluate(shared_clips, clips_cache, tmp_path):
    run, (cache, _) = tmp_path / "run", clips_cache
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "experiment=clips", f"footage={shared_clips}", "curriculum=clips_quick",
         "logger=none", f"data.cache_folder={cache}", "crop.resolution=256", "crop.landmarks=dlib",
         "data.num_workers=0", f"hydra.run.dir={run}"],
        capture_output=True, text=True, timeout=2400)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = run / "checkpoints" / "stage4-finetune.ckpt"

    for template, identity in [("d3", "d9"), ("d9", "d3")]:
        plate = tmp_path / f"{template}_plate"
        for index, frame in read_frames(source_from_path(shared_clips / f"{template}.mp4"), 0, PLATE_FRAMES):
            write_image(plate / f"{template}.{index:04d}.png", frame.rgb)
        out = tmp_path / f"{identity}_into_{template}"
        report = swap(plate, out, checkpoint, identity, SwapOptions(write_matte=True))
        assert report.frames == PLATE_FRAMES and report.swapped >= PLATE_FRAMES - 1, report
        for name in sorted(p.name for p in plate.iterdir()):
            original, swapped = read_image(plate / name), read_image(out / name)
            matte = read_image(out.with_name(out.name + "_matte") / name)
            np.testing.assert_array_equal(swapped[matte == 0], original[matte == 0])
            assert np.abs(swapped[matte > 0].astype(int) - original[matte > 0]).mean() > 2, name

    metrics = evaluate(checkpoint, cache, tmp_path / "eval", EvaluateOptions(holdout=EVAL_HOLDOUT))
    assert metrics["resolution"] == 128 and set(metrics["identities"]) == {"d3", "d9", "d10", "d14"}
    for pair in ("d9->d3", "d3->d9"):
        found, total = map(int, metrics["swaps"][pair]["faces_found"].split("/"))
        assert found >= 0.9 * total, (pair, metrics["swaps"][pair])
    summary = metrics["summary"]
    assert summary["ssim"] > 0.6 and summary["landmark_error"] < 0.1 and summary["temporal_ratio"] < 2, summary
    for scores in metrics["swaps"].values():  # the regions' errors (17, 10, 9, 12, 20 points) average to the whole
        regions = [scores[f"landmark_error_{r}"] for r in ("jaw", "brows", "nose", "eyes", "mouth")]
        assert np.average(regions, weights=[17, 10, 9, 12, 20]) == pytest.approx(scores["landmark_error"], rel=1e-6)
    # This 5-minute model: 0.79 (0.70 when the composite took the plate's features at 32 px and eroded the face).
    assert summary["retrieval_accuracy"] > 0.6, summary

    # the same frames read from the clips and swapped into them at plate scale by the swap's own stages
    plates = metrics["plate_scale"]
    assert plates["footage"] == str(shared_clips) and sum(plates["frames_without_face"].values()) <= 2, plates
    assert [plates["identities"][name]["frames"] for name in plates["identities"]] == \
        [metrics["identities"][name]["frames"] for name in metrics["identities"]]
    for pair in ("d9->d3", "d3->d9"):
        found, total = map(int, plates["swaps"][pair]["faces_found"].split("/"))
        assert found >= 0.9 * total, (pair, plates["swaps"][pair])
    # a 128 px face in these 512 px clips is softer than the plate, which crop space cannot show (0.47 and 1.18)
    assert plates["summary"]["sharpness_ratio"] < 0.8 < summary["sharpness_ratio"], (plates["summary"], summary)
    assert plates["summary"]["retrieval_accuracy"] > 0.4, plates["summary"]  # 0.62; chance is 0.25
    assert (tmp_path / "eval" / "contact_sheet_plate.png").is_file()
