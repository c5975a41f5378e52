"""The swap pipeline on real photos: sizes, bit depth, untouched pixels, no-face frames, bad input."""

from dataclasses import asdict

import cv2
import numpy as np
import pytest
import torch

from fusion.data.cache import CacheSettings
from fusion.io.image import read_image, write_image
from fusion.swap.model import CheckpointError, load_swap_model
from fusion.swap.pipeline import swap


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint in train.py's format (same save hook), of an untrained 32 px network."""
    from fusion.training.module import FusionModule

    module = FusionModule(["astronaut", "hopper"], {"resolution": 32, "width_multiplier": 0.125})
    module.crop_settings = asdict(CacheSettings(resolution=64, landmarks="dlib"))
    saved = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(saved)
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    torch.save(saved, path)
    return path


@pytest.fixture(scope="module")
def plates(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("plates") / "shot"
    for i in range(3):
        write_image(folder / f"plate.{i + 1:04d}.png", np.roll(photos["hopper"], 4 * i, axis=1))
    write_image(folder / "plate.0004.png", np.full((512, 512, 3), 90, np.uint8))  # no face
    return folder


def test_sequence_in_sequence_out(checkpoint, plates, tmp_path):
    report = swap(plates, tmp_path / "out", checkpoint, "astronaut", write_matte=True)
    assert (report.frames, report.swapped, report.no_face) == (4, 3, [3])
    names = sorted(p.name for p in plates.iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    for i, name in enumerate(names):
        plate, out = read_image(plates / name), read_image(tmp_path / "out" / name)
        assert out.shape == plate.shape and out.dtype == plate.dtype
        matte = read_image(tmp_path / "out_matte" / f"matte.{i:06d}.png")
        outside = matte == 0
        np.testing.assert_array_equal(out[outside], plate[outside])  # bit for bit
        if i < 3:
            assert 0.05 < (~outside).mean() < 0.5 and np.abs(out.astype(int) - plate).max() > 20
        else:
            np.testing.assert_array_equal(out, plate)


def test_16_bit_in_16_bit_out(checkpoint, photos, tmp_path):
    plate = photos["hopper"].astype(np.uint16) * 257 + 3
    write_image(tmp_path / "deep.png", plate)
    swap(tmp_path / "deep.png", tmp_path / "deep_out.png", checkpoint, "hopper", write_matte=True)
    out = read_image(tmp_path / "deep_out.png")
    matte = read_image(tmp_path / "deep_out_matte" / "matte.000000.png")
    assert out.dtype == np.uint16 and out.shape == plate.shape
    np.testing.assert_array_equal(out[matte == 0], plate[matte == 0])
    assert (out[matte > 0] % 257 != 3).mean() > 0.5  # new 16-bit values, not 8-bit ones scaled


def test_video_out_has_every_frame(checkpoint, plates, tmp_path):
    swap(plates, tmp_path / "out.mp4", checkpoint, "hopper", blend="alpha")
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    assert len(frames) == 4 and frames[0].shape == (512, 512, 3)


def test_bad_inputs_have_clear_errors(checkpoint, plates, tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not written by fusion"):
        load_swap_model(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="astronaut, hopper"):
        swap(plates, tmp_path / "x", checkpoint, "grace")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(FileNotFoundError, match="broken.mp4"):
        swap(tmp_path / "broken.mp4", tmp_path / "y.mp4", checkpoint, "hopper")
    with pytest.raises(FileNotFoundError, match="missing"):
        swap(tmp_path / "missing", tmp_path / "y.mp4", checkpoint, "hopper")


def test_evaluate_writes_metrics_and_sheet(checkpoint, tmp_path):
    """Plumbing on an untrained network: every metric present, the sheet sized rows x columns."""
    from fusion.data.prepare import PrepareOptions, prepare
    from fusion.demo.footage import make_demo_footage
    from fusion.eval.evaluate import evaluate

    footage = make_demo_footage(tmp_path / "footage", frames=20)
    prepare(footage, tmp_path / "cache", CacheSettings(resolution=64, landmarks="dlib"), PrepareOptions(contact_sheet=0))
    metrics = evaluate(checkpoint, tmp_path / "cache", tmp_path / "eval")
    assert set(metrics["swaps"]) == {"astronaut->hopper", "hopper->astronaut"}
    assert {"retrieval_accuracy", "landmark_error", "temporal_ratio", "ssim"} <= set(metrics["summary"])
    assert all(v["frames"] == 2 for v in metrics["identities"].values())  # 10% of 20 frames held out
    sheet = read_image(tmp_path / "eval" / "contact_sheet.png")
    assert sheet.shape == (3 * 32, 2 * 2 * 32, 3)  # rows: template + one swap per identity; identities side by side
