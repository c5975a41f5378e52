"""The swap pipeline on real photos: sizes, bit depth, untouched pixels, no-face frames, bad input."""

from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fusion.data.cache import CacheSettings, cache_location
from fusion.io.image import read_image, write_image
from fusion.swap.composite import composite_face
from fusion.swap.loader import CheckpointError, load_swap_model
from fusion.io.video import VideoWriter
from fusion.swap.pipeline import SwapOptions, preview_path, swap
from fusion.model.checkpoint import save_untrained


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint in train.py's format (same save hook), of an untrained 32 px network."""
    return save_untrained(tmp_path_factory.mktemp("ckpt") / "last.ckpt", ["astronaut", "hopper"],
                          {"resolution": 32, "width_multiplier": 0.125},
                          asdict(CacheSettings(resolution=64, landmarks="dlib")))


@pytest.fixture(scope="module")
def plates(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("plates") / "shot"
    for i in range(3):
        write_image(folder / f"plate.{i + 1:04d}.png", np.roll(photos["hopper"], 4 * i, axis=1))
    write_image(folder / "plate.0004.png", np.full((512, 512, 3), 90, np.uint8))  # no face
    return folder


def test_sequence_in_sequence_out(checkpoint, plates, tmp_path):
    report = swap(plates, tmp_path / "out", checkpoint, "astronaut", SwapOptions(write_matte=True))
    assert (report.frames, report.swapped, report.no_face) == (4, 3, [3])
    assert {"read", "detect", "landmarks", "align", "network", "composite", "write"} == set(report.seconds)
    assert report.frames_per_second > 0
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
    swap(tmp_path / "deep.png", tmp_path / "deep_out.png", checkpoint, "hopper", SwapOptions(write_matte=True))
    out = read_image(tmp_path / "deep_out.png")
    matte = read_image(tmp_path / "deep_out_matte" / "matte.000000.png")
    assert out.dtype == np.uint16 and out.shape == plate.shape
    np.testing.assert_array_equal(out[matte == 0], plate[matte == 0])
    assert (out[matte > 0] % 257 != 3).mean() > 0.5  # new 16-bit values, not 8-bit ones scaled


def read_video(path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    return frames, capture.get(cv2.CAP_PROP_FPS)


def test_video_out_has_every_frame_and_a_side_by_side_preview(checkpoint, plates, tmp_path):
    swap(plates, tmp_path / "out.mp4", checkpoint, "hopper", SwapOptions(blend="alpha", preview=True, preview_height=256))
    frames, fps = read_video(tmp_path / "out.mp4")
    assert len(frames) == 4 and frames[0].shape == (512, 512, 3) and fps == 24
    pairs, _ = read_video(preview_path(tmp_path / "out.mp4"))
    assert len(pairs) == 4 and pairs[0].shape == (256, 512, 3)
    plate = cv2.resize(cv2.imread(str(plates / "plate.0001.png")), (256, 256), interpolation=cv2.INTER_AREA)
    assert np.abs(pairs[0][:, :256].astype(int) - plate).mean() < 3  # left half: the plate (H.264 loss only)
    swapped = cv2.resize(frames[0], (256, 256), interpolation=cv2.INTER_AREA)
    assert np.abs(pairs[0][:, 256:].astype(int) - swapped).mean() < 3  # right half: the swap


def test_video_keeps_the_plate_frame_rate(checkpoint, plates, tmp_path):
    with VideoWriter(tmp_path / "plate.mp4", fps=25) as video:
        for name in sorted(plates.iterdir()):
            video.write(read_image(name))
    swap(tmp_path / "plate.mp4", tmp_path / "out.mp4", checkpoint, "hopper")
    frames, fps = read_video(tmp_path / "out.mp4")
    assert len(frames) == 4 and fps == 25


def test_erode_and_feather_shape_the_matte(checkpoint, plates, tmp_path):
    """Erosion shrinks the matte by about its radius all round; feather softens it inward only."""
    mattes = {}
    for name, erode, feather in [("hard", 0, 0), ("eroded", 8, 0), ("soft", 0, 12)]:
        out = tmp_path / name
        swap(plates / "plate.0001.png", out.with_suffix(".png"), checkpoint, "hopper",
             SwapOptions(erode=erode, feather=feather, write_matte=True))
        mattes[name] = read_image(tmp_path / f"{name}_matte" / "matte.000000.png") / 65535
        frame, plate = read_image(out.with_suffix(".png")), read_image(plates / "plate.0001.png")
        np.testing.assert_array_equal(frame[mattes[name] == 0], plate[mattes[name] == 0])
    hard, eroded, soft = (mattes[k] > 0 for k in ("hard", "eroded", "soft"))
    assert not (eroded & ~hard).any() and (soft == hard).all()
    perimeter = cv2.findContours(hard.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0][0].shape[0]
    assert 6 < (hard.sum() - eroded.sum()) / perimeter < 10  # the ring removed is ~8 px wide
    partial = (mattes["soft"] > 0.01) & (mattes["soft"] < 0.99)
    assert 9 < partial.sum() / perimeter < 14  # a 12 px ramp inside the edge


def _blobs(centres: np.ndarray, size: int, sigma: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in centres)


def _face_polygon() -> np.ndarray:
    """A 90 x 100 px elliptical face outline centred in a 160 px frame."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return np.stack([80 + 45 * np.cos(angles), 80 + 50 * np.sin(angles)], 1).astype(np.float32)


def test_multiband_composite_takes_features_from_the_face_and_lighting_from_the_plate():
    """Blobs a tenth of the face wide (eyes, nostrils) come from the face; the shading from the plate.

    The training blend's settings (depth from the box, no-leak erosion) fail this: in that box they mix
    one band only, and the interior's detail correlates 0.19 with the face's and 0.99 with the plate's.
    """
    size, rng = 160, np.random.default_rng(0)
    plate_features, face_features = (_blobs(rng.uniform(45, 115, (12, 2)), size) for _ in range(2))
    xx = np.mgrid[:size, :size][1] / size
    plate = np.clip((0.25 + 0.4 * xx)[..., None] * [1, 0.8, 0.7] - 0.2 * plate_features[..., None], 0, 1)
    face = np.clip(np.full((size, size, 1), 0.7) * [0.9, 0.9, 1.0] - 0.2 * face_features[..., None], 0, 1)
    polygon = _face_polygon()
    out, matte = composite_face(plate.astype(np.float32), face.astype(np.float32), np.eye(2, 3), polygon)
    np.testing.assert_array_equal(out[matte == 0], plate.astype(np.float32)[matte == 0])
    inner = cv2.erode((matte == 1).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    detail = lambda image: (image - cv2.GaussianBlur(image, (0, 0), 6)).mean(-1)[inner]
    shading = lambda image: cv2.GaussianBlur(image.astype(np.float32), (0, 0), 12)[inner]
    assert np.corrcoef(detail(out), detail(face))[0, 1] > 0.85
    assert np.corrcoef(detail(out), detail(plate))[0, 1] < 0.4
    assert np.abs(shading(out) - shading(plate)).mean() < 0.02 < 0.2 < np.abs(shading(out) - shading(face)).mean()


def test_grain_gives_the_face_the_plates_noise_level():
    from fusion.swap.grain import noise_sigma

    size, rng = 160, np.random.default_rng(1)
    xx = np.mgrid[:size, :size][1] / size
    plate = ((0.3 + 0.4 * xx)[..., None] * [1, 0.8, 0.7] + rng.normal(0, [0.03, 0.02, 0.04], (size, size, 3)))
    face = np.full((size, size, 3), 0.6)  # a decoder's clean output
    polygon = _face_polygon()
    plate, face = plate.astype(np.float32), face.astype(np.float32)
    clean, matte = composite_face(plate, face, np.eye(2, 3), polygon)
    grainy, _ = composite_face(plate, face, np.eye(2, 3), polygon, grain=True, seed=7)
    inner = (matte == 1).astype(np.float32)
    assert (noise_sigma(clean, inner) < 0.01).all()
    np.testing.assert_allclose(noise_sigma(grainy, inner), [0.03, 0.02, 0.04], rtol=0.15)
    np.testing.assert_array_equal(grainy[matte == 0], plate[matte == 0])
    again, _ = composite_face(plate, face, np.eye(2, 3), polygon, grain=True, seed=7)
    np.testing.assert_array_equal(again, grainy)  # a render is repeatable


def test_bf16_network_is_close_to_fp32_and_bad_precision_is_named(checkpoint, photos):
    fp32, bf16 = (load_swap_model(checkpoint, "auto", precision) for precision in ("fp32", "bf16"))
    assert next(fp32.net.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    crops = torch.from_numpy(np.stack([cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA) for p in photos.values()]))
    crops = crops.permute(0, 3, 1, 2).float().div(255)
    exact, fast = fp32.decode(crops, 1), bf16.decode(crops, 1)
    assert fast.dtype == torch.float32 and fast.device == crops.device
    assert 0 < (exact - fast).abs().max() < 0.01  # bf16 did run, and moved faces by under 2.6 8-bit levels
    with pytest.raises(ValueError, match="fp32, bf16"):
        load_swap_model(checkpoint, precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU; use device=cpu"):
            load_swap_model(checkpoint, device="cuda")


def test_interrupted_video_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt), VideoWriter(tmp_path / "cut.mp4") as video:
        video.write(np.zeros((16, 16, 3), np.uint8))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_have_clear_errors(checkpoint, plates, tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not written by fusion"):
        load_swap_model(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="astronaut, hopper"):
        swap(plates, tmp_path / "x", checkpoint, "grace")
    with pytest.raises(ValueError, match="multiband, alpha"):
        swap(plates, tmp_path / "x", checkpoint, "hopper", SwapOptions(blend="poisson"))
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(FileNotFoundError, match="broken.mp4"):
        swap(tmp_path / "broken.mp4", tmp_path / "y.mp4", checkpoint, "hopper")
    with pytest.raises(FileNotFoundError, match="missing"):
        swap(tmp_path / "missing", tmp_path / "y.mp4", checkpoint, "hopper")


def test_evaluate_writes_metrics_and_sheet(checkpoint, tmp_path, monkeypatch):
    """Plumbing on an untrained network: every metric present, the sheet sized rows x columns."""
    from fusion.data.prepare import PrepareOptions, prepare
    from fusion.demo.footage import make_demo_footage
    from fusion.eval.evaluate import evaluate

    footage = make_demo_footage(tmp_path / "footage", frames=20)
    settings = CacheSettings(resolution=64, landmarks="dlib")  # the checkpoint's crop settings
    prepare(footage, cache_location(tmp_path / "caches", settings), settings, PrepareOptions(contact_sheet=0))
    metrics = evaluate(checkpoint, None, tmp_path / "eval", cache_dir=tmp_path / "caches")  # found by the settings
    assert set(metrics["swaps"]) == {"astronaut->hopper", "hopper->astronaut"}
    assert {"retrieval_accuracy", "landmark_error", "temporal_ratio", "ssim", "landmark_error_real",
            "landmark_error_self_swap"} <= set(metrics["summary"])
    assert metrics["summary"]["landmark_error_real"] < 0.08  # the real frames against their cached landmarks: 0.04
    assert all(v["frames"] == 2 for v in metrics["identities"].values())  # 10% of 20 frames held out
    sheet = read_image(tmp_path / "eval" / "contact_sheet.png")
    assert sheet.shape == (3 * 32, 2 * 2 * 32, 3)  # rows: template + one swap per identity; identities side by side

    from fusion.eval.wandb_report import COLUMNS, log_evaluation, swap_table

    table = swap_table(metrics)
    assert table.columns == COLUMNS and [row[0] for row in table.data] == ["astronaut->hopper", "hopper->astronaut"]
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_files = Path(log_evaluation(metrics, tmp_path / "eval")).parent
    assert list(run_files.glob("*.wandb")) and "offline-run" in run_files.name
