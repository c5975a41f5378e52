import cv2
import numpy as np

from fusion.io.footage import find_identities, read_frames, scan_identity, source_from_path


def write_video(path, frames, fps=24):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_layout_folders_and_loose_videos(tmp_path):
    (tmp_path / "anna" / "shot2").mkdir(parents=True)
    frames = [np.full((32, 32, 3), i * 20, np.uint8) for i in range(5)]
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / "anna" / "shot2" / f"f{i}.png"), frames[0])
    write_video(tmp_path / "bob.mp4", frames)
    (tmp_path / "anna" / "notes.txt").write_text("not footage")
    assert find_identities(tmp_path) == ["anna", "bob"]
    anna = scan_identity(tmp_path, "anna")
    assert [p.name for p in anna.sources[0].images] == ["f1.png", "f2.png", "f10.png"]
    assert anna.problems[0]["reason"] == "unknown_extension" and "notes.txt" in anna.problems[0]["message"]
    bob = scan_identity(tmp_path, "bob")
    assert bob.sources[0].is_video and bob.sources[0].frames == 5


def test_empty_identity_and_zero_length_video(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "take.mp4").write_bytes(b"")
    empty = scan_identity(tmp_path, "empty")
    assert not empty.sources and empty.problems[0]["reason"] == "empty_identity"
    zero = scan_identity(tmp_path, "zero")
    reasons = {p["reason"] for p in zero.problems}
    assert reasons == {"unreadable_video", "empty_identity"}
    assert any("take.mp4" in p["message"] for p in zero.problems)


def test_video_chunks_match_sequential_decode(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(40)]
    write_video(tmp_path / "v.mp4", frames)
    source = scan_identity(tmp_path, "v").sources[0]
    whole = dict(read_frames(source, 0, 40))
    chunked = dict(read_frames(source, 17, 29))
    assert sorted(chunked) == list(range(17, 29))
    for index, frame in chunked.items():
        np.testing.assert_array_equal(frame.pixels, whole[index].pixels)


def test_frames_cuts_a_video_by_frame_number(tmp_path):
    rng = np.random.default_rng(1)
    write_video(tmp_path / "v.mp4", [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(12)])
    whole = dict(read_frames(source_from_path(tmp_path / "v.mp4"), 0, 12))
    cut = source_from_path(tmp_path / "v.mp4", frames="4-6")
    read = list(read_frames(cut, 0, cut.frames))
    assert [(index, frame.number) for index, frame in read] == [(0, 4), (1, 5), (2, 6)]
    for _, frame in read:
        np.testing.assert_array_equal(frame.pixels, whole[frame.number].pixels)
    assert list(read_frames(cut, cut.frames, cut.frames + 2)) == []  # past the cut's end (all kept): nothing
