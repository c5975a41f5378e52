"""The swap pipeline on real photos: sizes, bit depth, untouched pixels, no-face frames, bad input."""

from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch

from fusion.errors import OutputError
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import read_image, write_image
from fusion.io.video import VideoWriter
from fusion.swap.loader import CheckpointError, load_swap_model
from fusion.swap.pipeline import SwapOptions, preview_path, swap
from fusion.swap.writer import output_files


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
        matte = read_image(tmp_path / "out_matte" / name)  # named after its plate
        outside = matte == 0
        np.testing.assert_array_equal(out[outside], plate[outside])  # bit for bit
        if i < 3:
            assert 0.05 < (~outside).mean() < 0.5 and np.abs(out.astype(int) - plate).max() > 20
        else:
            np.testing.assert_array_equal(out, plate)


def test_mattes_are_named_after_their_plates(checkpoint, plates, tmp_path):
    """A sequence's mattes take their plate's name whatever the output (here a video); a video's, its frame number."""
    swap(plates, tmp_path / "out.mp4", checkpoint, "hopper", SwapOptions(write_matte=True))
    names = sorted(p.name for p in plates.iterdir())
    assert sorted(p.name for p in (tmp_path / "out_matte").iterdir()) == names
    covered = [(read_image(tmp_path / "out_matte" / name) > 0).mean() for name in names]
    assert all(0.05 < share < 0.5 for share in covered[:3]) and covered[3] == 0  # plate.0004 has no face
    with VideoWriter(tmp_path / "plate.mp4") as video:
        for name in names:
            video.write(read_image(plates / name))
    swap(tmp_path / "plate.mp4", tmp_path / "clip", checkpoint, "hopper", SwapOptions(write_matte=True))
    assert sorted(p.name for p in (tmp_path / "clip_matte").iterdir()) == [f"matte.{i:06d}.png" for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "clip").iterdir()) == [f"plate.{i:06d}.png" for i in range(4)]


def test_two_plates_that_would_share_a_matte_are_refused(tmp_path):
    write_image(tmp_path / "shot" / "a.0001.png", np.zeros((8, 8, 3), np.uint8))
    write_image(tmp_path / "shot" / "a.0001.exr", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(OutputError, match=r"shot/a\.0001\.exr and .*shot/a\.0001\.png would both write the matte "
                                          r".*out_matte/a\.0001\.png; keep one image per frame in .*shot$"):
        output_files(tmp_path / "out", source_from_path(tmp_path / "shot"), write_matte=True)


def test_16_bit_in_16_bit_out(checkpoint, photos, tmp_path):
    plate = photos["hopper"].astype(np.uint16) * 257 + 3
    write_image(tmp_path / "deep.png", plate)
    swap(tmp_path / "deep.png", tmp_path / "deep_out.png", checkpoint, "hopper", SwapOptions(write_matte=True))
    out = read_image(tmp_path / "deep_out.png")
    matte = read_image(tmp_path / "deep_out_matte" / "deep.png")
    assert out.dtype == np.uint16 and out.shape == plate.shape
    np.testing.assert_array_equal(out[matte == 0], plate[matte == 0])
    assert (out[matte > 0] % 257 != 3).mean() > 0.5  # new 16-bit values, not 8-bit ones scaled


def read_video(path) -> tuple[list[np.ndarray], Fraction]:
    """A video's RGB frames and rate as fusion reads them (with the YUV matrix it is tagged with)."""
    source = source_from_path(path)
    return [frame.pixels for _, frame in read_frames(source, 0, source.frames)], source.video.rate


def test_video_out_has_every_frame_and_a_side_by_side_preview(checkpoint, plates, tmp_path):
    swap(plates, tmp_path / "out.mp4", checkpoint, "hopper", SwapOptions(blend="alpha", preview=True, preview_height=256))
    frames, fps = read_video(tmp_path / "out.mp4")
    assert len(frames) == 4 and frames[0].shape == (512, 512, 3) and fps == 24
    pairs, _ = read_video(preview_path(tmp_path / "out.mp4"))
    assert len(pairs) == 4 and pairs[0].shape == (256, 512, 3)
    plate = cv2.resize(read_image(plates / "plate.0001.png"), (256, 256), interpolation=cv2.INTER_AREA)
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
        mattes[name] = read_image(tmp_path / f"{name}_matte" / "plate.0001.png") / 65535
        frame, plate = read_image(out.with_suffix(".png")), read_image(plates / "plate.0001.png")
        np.testing.assert_array_equal(frame[mattes[name] == 0], plate[mattes[name] == 0])
    hard, eroded, soft = (mattes[k] > 0 for k in ("hard", "eroded", "soft"))
    assert not (eroded & ~hard).any() and (soft == hard).all()
    perimeter = cv2.findContours(hard.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0][0].shape[0]
    assert 6 < (hard.sum() - eroded.sum()) / perimeter < 10  # the ring removed is ~8 px wide
    partial = (mattes["soft"] > 0.01) & (mattes["soft"] < 0.99)
    assert 9 < partial.sum() / perimeter < 14  # a 12 px ramp inside the edge


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
