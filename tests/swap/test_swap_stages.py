"""The swap's stages one at a time: read, find, align, batch, decode (color, matte), composite, write."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fusion.data.cache import CropSettings
from fusion.errors import ConfigError
from fusion.faces.align import transform_points
from fusion.faces.tracker import FaceTracker
from fusion.io.footage import source_from_path
from fusion.io.image import encode, read_image
from fusion.io.video import VideoWriter
from fusion.stopwatch import Stopwatch
from fusion.swap.color import color_step
from fusion.swap.composite import composite_face
from fusion.swap.decode import DecodedFace, FaceDecoder
from fusion.swap import frames as frames_module
from fusion.swap.frames import (Face, KeptFrames, PlateFrame, align_face, align_frames, batches, find_faces,
                                 read_plates)
from fusion.swap.matte import learned_matte
from fusion.swap.options import SwapOptions
from fusion.swap import pipeline
from fusion.swap.pipeline import SwapReport, composite_frame
from fusion.swap.writer import SwapOutputs

SIZE = 8
#: A face whose crop is the plate's top-left 8 x 8 pixels: the identity warp, a square hull inside it.
CORNER = Face(np.eye(2, 3), np.array([[1, 1], [6, 1], [6, 6], [1, 6]], np.float64))


class IdentityModel:
    """What the decode stage reads of a SwapModel: a network that returns its crops, recording each batch."""

    def __init__(self):
        self.net = SimpleNamespace(output_resolution=SIZE)
        self.batches: list[tuple[int, int]] = []

    def decode(self, crops: torch.Tensor, identity: int) -> torch.Tensor:
        self.batches.append((len(crops), identity))
        return crops.clone()


def shot(faces: list[bool]) -> list[PlateFrame]:
    """Frames of 16 x 16 random 8-bit pixels, with the CORNER face where `faces` says."""
    rng = np.random.default_rng(0)
    return [PlateFrame(i, rng.integers(0, 256, (16, 16, 3), np.uint8), CORNER if face else None)
            for i, face in enumerate(faces)]


def test_batches_run_over_frames_in_order_and_decode_their_faces_together():
    """batch_size 3 over 7 frames, no face in 2 and 5: runs of 3, 3, 1 frames; the network sees 2, 2 and 1
    faces; each frame gets its own face back, None where it had none."""
    frames, model = shot([True, True, False, True, True, False, True]), IdentityModel()
    decode = FaceDecoder(model, 1, None, None, Stopwatch())
    runs = list(batches(iter(frames), 3))
    assert [[frame.index for frame in run] for run in runs] == [[0, 1, 2], [3, 4, 5], [6]]
    decoded = [face for run in runs for face in decode(run)]
    assert model.batches == [(2, 1), (2, 1), (1, 1)]
    assert [face is None for face in decoded] == [False, False, True, False, False, True, False]
    for frame, face in zip(frames, decoded):
        if face is not None:  # the identity network: the face is the crop, the plate's corner encoded
            np.testing.assert_array_equal(face.pixels, encode(frame.plate[:SIZE, :SIZE]))
            assert face.visible is None
    assert decode(shot([False, False])) == [None, None] and len(model.batches) == 3  # no face: no network call


def test_the_color_step_is_the_identity_for_none_and_sees_each_face_with_its_plate_and_hull():
    model, watch = IdentityModel(), Stopwatch()
    frames = shot([True, False, True])
    plain = FaceDecoder(model, 0, color_step("none", None), None, watch)(frames)
    assert "color" not in watch.seconds
    np.testing.assert_array_equal(plain[0].pixels, encode(frames[0].plate[:SIZE, :SIZE]))
    seen = []

    def darken(face, plate, mask):
        seen.append((face.clone(), plate.clone(), mask.clone()))
        return face * 0.5

    graded = FaceDecoder(model, 0, darken, None, watch)(frames)
    face, plate, mask = seen[0]
    assert face.shape == plate.shape == (2, 3, SIZE, SIZE) and mask.shape == (2, 1, SIZE, SIZE)
    assert torch.equal(face, plate)  # the identity network: the decoded face is its own plate crop
    assert mask[0, 0, 3, 3] == 1 and mask[0, 0, 0, 0] == 0 and mask[0, 0, 7, 7] == 0  # inside the hull only
    np.testing.assert_allclose(graded[2].pixels, plain[2].pixels * 0.5)
    assert graded[1] is None and watch.seconds["color"] > 0


def test_the_checkpoint_decides_the_color_step_and_the_matte():
    assert color_step("none", None) is None and learned_matte("hull", object()) is None
    net = torch.nn.Linear(1, 1)
    assert color_step("lut", net).net is net and learned_matte("learned", net) is net
    with pytest.raises(ConfigError, match=r"color=lut: last.ckpt holds no color LUT; train one with python color.py"):
        color_step("lut", None, "last.ckpt")
    with pytest.raises(ConfigError, match=r"matte=learned: last.ckpt holds no learned matte"):
        learned_matte("learned", None, "last.ckpt")


def test_the_learned_matte_says_where_each_face_is_visible():
    class HalfVisible:
        def predict(self, crops):
            visible = torch.zeros(len(crops), 1, SIZE, SIZE)
            visible[..., :SIZE // 2] = 1
            return visible

    decoded = FaceDecoder(IdentityModel(), 0, None, HalfVisible(), Stopwatch())(shot([True, False]))
    assert decoded[0].visible.shape == (SIZE, SIZE) and decoded[0].visible[:, :4].all()
    assert not decoded[0].visible[:, 4:].any() and decoded[1] is None


def test_options_are_checked_when_made():
    for bad, message in ((dict(color="warm"), "color=warm: choose"), (dict(matte="alpha"), "matte=alpha: choose"),
                         (dict(blend="screen"), "blend=screen: choose"), (dict(batch_size=0), "batch_size=0")):
        with pytest.raises(ConfigError, match=message):
            SwapOptions(**bad)


def test_find_reads_every_frame_and_align_lays_out_each_face(plates, dlib_backend):
    """The four-plate shot (hopper three times, then a grey frame): landmarks for the first three, NaN for the
    last; aligned, each face's hull lands inside its crop and the grey frame has none."""
    source, watch = source_from_path(plates), Stopwatch()
    assert [frame.index for frame in read_plates(source, watch)] == [0, 1, 2, 3] and watch.seconds["read"] > 0
    landmarks = find_faces(source, FaceTracker(dlib_backend, 1), 1, watch)
    assert landmarks.shape == (4, 68, 2) and not np.isnan(landmarks[:3]).any() and np.isnan(landmarks[3]).all()
    assert abs(np.median(landmarks[1, :, 0] - landmarks[0, :, 0]) - 4) < 1.5  # the plates shift 4 px a frame
    crop = CropSettings(resolution=64, landmarks="dlib")
    frames = list(align_frames(read_plates(source, watch), landmarks, crop, 32))
    assert [frame.face is None for frame in frames] == [False, False, False, True]
    for frame in frames[:3]:
        hull = transform_points(frame.face.polygon, frame.face.matrix)
        assert frame.face.matrix.shape == (2, 3) and (hull > -4).all() and (hull < 36).all()
    assert align_face(np.full((68, 2), np.nan, np.float32), crop, 32) is None


def test_the_swap_pass_takes_the_frames_the_find_pass_kept_and_reads_only_the_rest(plates, dlib_backend,
                                                                                  monkeypatch):
    """A budget of two frames: the find pass keeps frames 0 and 1, the swap's pass yields them (the very
    arrays) and then reads from frame 2 on; the frames are those a plain read gives."""
    source = source_from_path(plates)
    plain = list(read_plates(source, Stopwatch()))
    kept = KeptFrames(2 * plain[0].plate.nbytes)
    find_faces(source, FaceTracker(dlib_backend, 1), 1, Stopwatch(), kept=kept)
    first = list(kept.frames)
    starts = []
    reading = frames_module.read_frames_ahead
    monkeypatch.setattr(frames_module, "read_frames_ahead",
                        lambda *args: starts.append(args[1]) or reading(*args))
    frames = list(read_plates(source, Stopwatch(), kept))
    assert starts == [2] and [frame.index for frame in frames] == [0, 1, 2, 3] and not kept.frames
    assert frames[0] is first[0] and frames[1] is first[1]
    for frame, expected in zip(frames, plain):
        np.testing.assert_array_equal(frame.plate, expected.plate)


def test_the_swap_pass_of_a_cut_video_whose_frames_were_all_kept_reads_none_again(tmp_path):
    """`frames=` on a video, every frame kept by the find pass: the swap's pass yields the kept frames and
    reads nothing past the cut (it once asked the cut for a frame number beyond its end)."""
    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(6)]
    with VideoWriter(tmp_path / "plate.mov", codec="prores_4444") as video:
        for frame in frames:
            video.write(frame)
    source = source_from_path(tmp_path / "plate.mov", frames="2-4")
    kept = KeptFrames(1 << 30)
    for frame in read_plates(source, Stopwatch()):
        kept.offer(frame)
    assert [frame.index for frame in read_plates(source, Stopwatch(), kept)] == [0, 1, 2] and not kept.frames


def test_render_frames_decodes_the_next_batch_while_the_last_frames_composite_and_writes_in_order(monkeypatch):
    """One core, batches of two: frame 1 is still compositing when batch [2, 3] decodes (its composite waits for
    that decode), frames are written in order, and frame 2, finished by a killed run, counts without a write."""
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 1)
    next_batch_decoded = threading.Event()
    decoded, written, waited = [], [], {}

    def decode(frames):
        decoded.append([frame.index for frame in frames])
        if len(decoded) == 2:
            next_batch_decoded.set()
        return [None] * len(frames)

    def composite(frame, face):
        if frame.index == 1:
            waited[1] = next_batch_decoded.wait(timeout=10)
        return frame.plate, np.zeros(frame.plate.shape[:2], np.float32)

    outputs = SimpleNamespace(done=lambda frame: frame.index == 2,
                              write=lambda frame, swapped, matte: written.append(frame.index))
    report = SwapReport()
    frames = [PlateFrame(index, np.full((4, 4, 3), index, np.uint8)) for index in range(4)]
    pipeline.render_frames(batches(frames, 2), decode, composite, outputs, report, Stopwatch())
    assert waited == {1: True} and decoded == [[0, 1], [3]]
    assert written == [0, 1, 3] and (report.frames, report.resumed, report.no_face) == (4, 1, [0, 1, 2, 3])


def test_composite_passes_a_frame_without_a_face_through_and_blends_one_with_a_face():
    """A 64 px plate whose face (the square 8-56) maps onto an 8 px crop: blended inside the matte, the plate's
    bit for bit outside it, as `composite_face` does; a frame without a face is its plate, matte 0."""
    options = SwapOptions(blend="alpha", feather=2.0)
    plate = np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)
    face = Face(np.eye(2, 3) / 8, np.array([[8, 8], [56, 8], [56, 56], [8, 56]], np.float64))
    unchanged, matte = composite_frame(PlateFrame(0, plate), None, options)
    assert unchanged is plate and matte.shape == (64, 64) and not matte.any()
    decoded = DecodedFace(np.ones((SIZE, SIZE, 3), np.float32))
    frame, matte = composite_frame(PlateFrame(3, plate, face), decoded, options)
    expected = composite_face(plate, decoded.pixels, face.matrix, face.polygon, "alpha", None, 2.0, False, 3, None,
                              "none")
    np.testing.assert_array_equal(frame, expected[0])
    np.testing.assert_array_equal(matte, expected[1])
    assert matte[32, 32] == 1 and (frame[32, 32] == 255).all() and (frame[matte == 0] == plate[matte == 0]).all()


def test_write_stages_frames_mattes_and_preview_together(tmp_path, plates):
    source = source_from_path(plates)
    frames = list(read_plates(source, Stopwatch()))
    options = SwapOptions(write_matte=True, preview=True, preview_height=64)
    with SwapOutputs(tmp_path / "out", source, options) as outputs:
        for frame in frames:
            outputs.write(frame, frame.plate, np.full(frame.plate.shape[:2], 0.5, np.float32))
        assert not (tmp_path / "out").exists()  # staged until the render is whole
    names = sorted(path.name for path in plates.iterdir())
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == names
    np.testing.assert_array_equal(read_image(tmp_path / "out" / names[0]), frames[0].plate)
    assert (read_image(tmp_path / "out_matte" / names[0]) == 32768).all()
    assert (tmp_path / "out_preview.mp4").stat().st_size > 0


def test_the_report_counts_swapped_frames_and_lists_the_others():
    report = SwapReport()
    for frame in shot([True, False, True, False]):
        report.count(frame)
    assert (report.frames, report.swapped, report.no_face) == (4, 2, [1, 3])
