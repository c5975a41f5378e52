"""`prepare` end to end on real photos: good footage and every kind of bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fusion.data.cache import CropSettings, IdentityCache, cache_location
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.io.image import read_image, write_image

REPO = Path(__file__).resolve().parents[2]
SETTINGS = CropSettings(resolution=128, landmarks="dlib", jitter=2)
OPTIONS = PrepareOptions(workers=1, chunk=4, contact_sheet=4, detect_size=640)


def bad_footage(root: Path, photos: dict, clip) -> Path:
    hopper, astronaut = photos["hopper"], photos["astronaut"]
    for i in range(3):
        write_image(root / "good" / f"f{i}.png", np.roll(hopper, i * 3, axis=1))
    write_image(root / "crowd" / "f0.png", np.concatenate([astronaut, hopper], axis=1))
    cv2.imwrite(str(root / "gray" / "f0.png") if (root / "gray").mkdir() is None else "", cv2.cvtColor(hopper, cv2.COLOR_RGB2GRAY))
    rgba = np.dstack([hopper, np.full(hopper.shape[:2], 200, np.uint8)])
    (root / "rgba").mkdir()
    cv2.imwrite(str(root / "rgba" / "f0.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    write_image(root / "deep" / "f0.png", hopper.astype(np.uint16) * 257)
    write_image(root / "hdr" / "f0.exr", (hopper.astype(np.float32) / 255) ** 2.2)
    (root / "prores").mkdir()
    clip(root / "prores" / "take.mov", [hopper.astype(np.uint16) * 257])  # 10-bit ProRes 422 HQ
    write_image(root / "tiny" / "f0.png", cv2.resize(hopper, (128, 128), interpolation=cv2.INTER_AREA))
    write_image(root / "edge" / "f0.png", np.ascontiguousarray(hopper[:, 220:]))
    write_image(root / "noface" / "f0.png", np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    write_image(root / "corrupt" / "f0.png", hopper)
    (root / "corrupt" / "f1.png").write_bytes(b"\x89PNG truncated")
    (root / "empty").mkdir()
    (root / "zero").mkdir()
    (root / "zero" / "take.mp4").write_bytes(b"")
    (root / "junk").mkdir()
    (root / "junk" / "readme.txt").write_text("notes")
    video = mjpeg_video(root / "cut" / "take.avi", [np.roll(hopper, 3 * i, axis=1) for i in range(6)]).read_bytes()
    (root / "cut" / "take.avi").write_bytes(video[:len(video) // 2])  # the header still says 6 frames; 4 decode
    (root / "hollow").mkdir()
    data = video.index(b"movi") + 4
    (root / "hollow" / "take.avi").write_bytes(video[:data] + bytes(len(video) - data))  # says 6, decodes none
    return root


def mjpeg_video(path: Path, frames: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, photos, clip):
    root = tmp_path_factory.mktemp("bad")
    footage = bad_footage(root / "footage", photos, clip)
    report = prepare(footage, root / "cache", SETTINGS, OPTIONS)
    return root / "cache", report


def test_good_identity_is_cached(prepared):
    cache, report = prepared
    good = report["identities"]["good"]
    assert (good["frames_read"], good["faces_kept"], good["skipped"]) == (3, 3, {})
    index = IdentityCache(cache, "good").index()
    assert [r["frame"] for r in index] == [0, 1, 2]
    crop = read_image(cache / "good" / index[0]["crop"])
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert np.array(index[0]["landmarks"]).shape == (68, 2) and index[0]["sharpness"] > 0
    assert read_image(cache / "good" / "contact_sheet.png").shape[2] == 3
    assert json.loads((cache / "report.json").read_text())["faces_kept"] == report["faces_kept"]


def test_several_faces_keep_one_and_say_so(prepared):
    crowd = prepared[1]["identities"]["crowd"]
    assert crowd["faces_kept"] == 1 and crowd["notes"] == {"several_faces_kept_one": 1}


@pytest.mark.parametrize("identity,note", [("gray", "grayscale: replicated to RGB"), ("rgba", "RGBA: alpha ignored")])
def test_channel_layouts_are_converted_and_noted(prepared, identity, note):
    result = prepared[1]["identities"][identity]
    assert result["faces_kept"] == 1 and result["notes"] == {note: 1}


@pytest.mark.parametrize("identity,dtype", [("deep", np.uint16), ("hdr", np.float32), ("prores", np.uint16)])
def test_bit_depth_is_kept(prepared, identity, dtype):
    cache = prepared[0]
    record = IdentityCache(cache, identity).index()[0]
    crop = read_image(cache / identity / record["crop"])
    assert crop.dtype == dtype and record["dtype"] == np.dtype(dtype).name
    if dtype == np.uint16:
        assert crop.max() > 255  # real 16-bit values, not 8-bit data in a 16-bit file


@pytest.mark.parametrize("identity,reason", [
    ("tiny", "face_too_small"), ("edge", "face_outside_frame"), ("noface", "no_face"),
])
def test_unusable_faces_are_skipped_with_reason(prepared, identity, reason):
    result = prepared[1]["identities"][identity]
    assert result["faces_kept"] == 0 and result["skipped"] == {reason: 1}


@pytest.mark.parametrize("identity,reason,name", [
    ("corrupt", "unreadable_frame", "f1.png"), ("empty", "empty_identity", "empty"),
    ("zero", "unreadable_video", "take.mp4"), ("junk", "unknown_extension", "readme.txt"),
])
def test_bad_files_are_reported_by_name(prepared, identity, reason, name):
    problems = prepared[1]["identities"][identity]["problems"]
    assert any(p["reason"] == reason and name in p["message"] for p in problems), problems


@pytest.mark.parametrize("identity,reason,read", [("cut", "video_shorter_than_its_header", 4),
                                                  ("hollow", "no_frames_decoded", 0)])
def test_videos_decoding_fewer_frames_than_their_header_are_named(prepared, identity, reason, read):
    result = prepared[1]["identities"][identity]
    problem = next(p for p in result["problems"] if p["reason"] == reason)
    assert (problem["frames_expected"], problem["frames_read"]) == (6, read)
    assert f"take.avi: its header promises 6 frames but {read} decoded" in problem["message"]
    [row] = result["files"]
    assert (Path(row["file"]).name, row["frames_expected"], row["frames_read"]) == ("take.avi", 6, read)
    assert row["faces_kept"] == result["faces_kept"] == read


def test_every_input_file_is_accounted_for(prepared):
    """Each source has a row (frames expected, read, kept, skipped by reason); files it could not use are listed."""
    identities = prepared[1]["identities"]
    corrupt = identities["corrupt"]["files"]
    assert [(r["frames_expected"], r["frames_read"], r["faces_kept"]) for r in corrupt] == [(2, 1, 1)]
    assert corrupt[0]["skipped_files"] == {"unreadable_frame": ["f1.png"]}
    assert identities["noface"]["files"][0]["skipped_files"] == {"no_face": ["f0.png"]}
    junk = identities["junk"]["files"]
    assert [Path(r["file"]).name for r in junk if r["ignored"] == "unknown_extension"] == ["readme.txt"]
    for name, result in identities.items():
        for row in result["files"]:
            if "ignored" not in row:
                assert row["frames_read"] + row["skipped"].get("unreadable_frame", 0) >= row["faces_kept"]
                assert row["faces_kept"] + sum(row["skipped"].values()) - row["skipped"].get("unreadable_frame", 0) \
                    <= row["frames_read"], name


def test_corrupt_frame_does_not_lose_its_neighbours(prepared):
    assert prepared[1]["identities"]["corrupt"]["faces_kept"] == 1


def test_sources_whose_names_reduce_alike_keep_their_own_frames(tmp_path, photos):
    """`take 1`/`take_1` and `take é`/`take ü` are four sources with four keys: every frame is kept once,
    cut with its own landmarks (the face shifted by its own roll), and a second run finds everything done."""
    shifts = {"take 1": 0, "take_1": 40, "take é": 80, "take ü": 120}
    for name, shift in shifts.items():
        for i in range(2):
            write_image(tmp_path / "footage" / "anna" / name / f"f{i}.png", np.roll(photos["hopper"], shift + i, axis=1))
    report = prepare(tmp_path / "footage", tmp_path / "cache", SETTINGS, OPTIONS)
    anna = report["identities"]["anna"]
    assert anna["faces_kept"] == 8 and anna["problems"] == []
    assert sorted(row["faces_kept"] for row in anna["files"]) == [2, 2, 2, 2]
    index = IdentityCache(tmp_path / "cache", "anna").index()
    assert len({r["key"] for r in index}) == 8
    for record in index:
        # the crop's matrix maps the footage to the crop: its translation follows this source's shift
        x = np.array(record["matrix"])[0, 2]
        first = next(r for r in index if r["source"] == "take 1" and r["frame"] == record["frame"])
        scale = np.hypot(*np.array(record["matrix"])[0, :2])
        assert -x + first["matrix"][0][2] == pytest.approx(scale * shifts[record["source"]], abs=4), record["source"]
    records = sorted((tmp_path / "cache" / "anna" / "records").iterdir())
    stamps = [path.stat().st_mtime_ns for path in records]
    again = prepare(tmp_path / "footage", tmp_path / "cache", SETTINGS, OPTIONS)
    assert again["identities"]["anna"]["faces_kept"] == 8
    assert [path.stat().st_mtime_ns for path in sorted((tmp_path / "cache" / "anna" / "records").iterdir())] == stamps


def test_cache_with_sources_mixed_up_by_an_older_version_is_refused(tmp_path, photos):
    """A record of `take 1` stored under `take_1`'s key (what older versions did) stops prepare with the fix."""
    from fusion.data.cache import CacheMismatchError

    for name in ("take 1", "take_1"):
        write_image(tmp_path / "footage" / "anna" / name / "f0.png", photos["hopper"])
    folder = tmp_path / "cache" / "anna"
    IdentityCache(tmp_path / "cache", "anna").claim(SETTINGS)
    (folder / "records").mkdir()
    (folder / "records" / "take_1.0000000.json").write_text(json.dumps({"key": "take_1.0000000", "source": "take 1",
                                                                          "frame": 0}))
    with pytest.raises(CacheMismatchError, match=r"holds a frame of 'take 1' under the key of 'take_1'.*delete"):
        prepare(tmp_path / "footage", tmp_path / "cache", SETTINGS, OPTIONS)


def test_settings_mismatch_is_an_error(prepared, tmp_path, photos):
    from fusion.data.cache import CacheMismatchError

    cache = prepared[0]
    with pytest.raises(CacheMismatchError, match="resolution"):
        IdentityCache(cache, "good").claim(CropSettings(resolution=256, landmarks="dlib", jitter=2))


def test_command_exit_codes(tmp_path, photos, compose, capsys):
    """0: faces kept, then the train command; 1: none kept, in one line; 2: a missing footage folder."""
    from fusion.commands.command import execute
    from fusion.commands.prepare import PREPARE

    base = [f"paths.root_dir={tmp_path}", "crop.landmarks=dlib", "crop.resolution=64", "workers=1", "contact_sheet=0"]
    write_image(tmp_path / "nothing" / "noface" / "f0.png", np.zeros((64, 64, 3), np.uint8))
    assert execute(PREPARE, compose("prepare", base + [f"footage={tmp_path / 'nothing'}"])) == 1
    assert capsys.readouterr().err == "no usable face in any identity: nothing to train on\n"
    assert execute(PREPARE, compose("prepare", base + [f"footage={tmp_path / 'missing'}"])) == 2
    assert capsys.readouterr().err == (f"prepare failed: footage folder {tmp_path / 'missing'} does not exist; "
                                       "expected footage/<identity>/<videos or images>\n")
    write_image(tmp_path / "some" / "a" / "f0.png", photos["hopper"])
    assert execute(PREPARE, compose("prepare", base + [f"footage={tmp_path / 'some'}"])) == 0
    next_step = capsys.readouterr().out.strip().splitlines()[-1]
    assert next_step == f"next: python train.py footage={tmp_path / 'some'} crop.resolution=64 crop.landmarks=dlib"


def test_config_typo_is_an_error(compose):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="cach_folder"):
        compose("prepare", ["cach_folder=x"])


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory) -> Path:
    """The demo footage at half its default length, made once for both runs: each identity is still several
    chunks, so the kill lands between them."""
    from fusion.demo.footage import make_demo_footage

    return make_demo_footage(tmp_path_factory.mktemp("short_demo"), frames=24)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_cache(tmp_path, short_demo):
    """SIGKILL part-way through, run again: same index as an uninterrupted run."""
    settings = CropSettings(resolution=96, landmarks="dlib")
    command = [sys.executable, str(REPO / "prepare.py"), f"footage={short_demo}", "crop.landmarks=dlib",
               "crop.resolution=96", "chunk=6", "workers=2", "contact_sheet=0"]
    reference = subprocess.run(command + [f"paths.root_dir={tmp_path / 'ref'}"], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    run = tmp_path / "run"
    victim = subprocess.Popen(command + [f"paths.root_dir={run}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    cache, reference_cache = (cache_location(root / "data" / "cache", settings) for root in (run, tmp_path / "ref"))
    records = cache / "astronaut" / "records"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(records.glob("*.json")) if records.is_dir() else []) < 10:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not (cache / "report.json").exists()  # it really was interrupted
    resumed = subprocess.run(command + [f"paths.root_dir={run}"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for identity in ("astronaut", "hopper"):
        ours = IdentityCache(cache, identity).index()
        theirs = IdentityCache(reference_cache, identity).index()
        assert [r["key"] for r in ours] == [r["key"] for r in theirs] and len(ours) == 24
        assert len({r["key"] for r in ours}) == len(ours)
        np.testing.assert_allclose([r["landmarks"] for r in ours], [r["landmarks"] for r in theirs], atol=0.02)
        folder = cache / identity
        assert not list(folder.rglob("*.partial*"))
        assert len(list((folder / "crops").iterdir())) == len(ours)
        for record in ours:
            assert read_image(folder / record["crop"]).shape == (96, 96, 3)


def test_prepare_then_train_share_one_cache(tmp_path, photos, compose):
    """`prepare.py` and `train.py` with the same footage and crop settings meet in one cache folder, keyed by the
    settings with `landmarks=auto` resolved; training finds every frame done and runs no second landmark pass."""
    from fusion.commands.command import execute
    from fusion.commands.prepare import PREPARE
    from fusion.instantiate import build

    for identity, photo in (("a", photos["hopper"]), ("b", photos["astronaut"])):
        for i in range(3):
            write_image(tmp_path / "footage" / identity / f"f{i}.png", np.roll(photo, 3 * i, axis=1))
    shared = [f"footage={tmp_path / 'footage'}", "crop.resolution=64", "crop.landmarks=auto"]
    assert execute(PREPARE, compose("prepare", [f"paths.root_dir={tmp_path}", "workers=1", "contact_sheet=0", *shared])) == 0
    [folder] = (tmp_path / "data" / "cache").iterdir()
    assert folder.name.startswith("64px_dlib_")  # auto, resolved (no FAN weights here) and recorded as what ran
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}

    datamodule = build(compose("train", shared, root=tmp_path).data, _convert_="all")
    assert datamodule.cache == folder and datamodule.crop.landmarks == "dlib"
    datamodule.prepare_cache()
    after = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    landmarks = {p for p in after if p.parent.name == "landmarks"}
    assert landmarks and all(after[p] == stamps[p] for p in landmarks)  # no detection ran again
    assert all(after[p] == stamps[p] for p in after if p.parent.name in ("crops", "records"))


def test_a_prepared_cache_starts_no_worker(demo_cache, monkeypatch):
    """Every training run checks its cache: with every frame done, no process is started and nothing rewritten."""
    import multiprocessing

    from fusion.data import prepare as prepare_module

    settings = CropSettings(resolution=64, landmarks="dlib")
    cache = cache_location(demo_cache / "data" / "cache", settings)
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.parent.name in ("crops", "landmarks", "records")}
    monkeypatch.setattr(multiprocessing.get_context("forkserver"), "Pool",
                        lambda *args, **kwargs: pytest.fail("a worker pool was started"))
    monkeypatch.setattr(prepare_module, "_start_worker", lambda *args: pytest.fail("a worker was started"))
    report = prepare(demo_cache / "data" / "demo" / "footage", cache, settings, PrepareOptions(workers=2))
    assert report["faces_kept"] > 0 and len(before) > 10
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_each_worker_of_the_pool_runs_torch_on_one_thread(tmp_path):
    """The pool is a process a core: a worker's torch on every core spun against the others (the crops'
    sharpness took 25x longer). A fresh process, so its pool starts from an environment asking for 2 threads."""
    probe = tmp_path / "probe.py"
    probe.write_text("import torch\n"
                     "from fusion.data.prepare import _Workers\n\n"
                     "def threads(_):\n    return torch.get_num_threads()\n\n"
                     "if __name__ == '__main__':\n"
                     "    with _Workers(2, 'dlib', 320) as run:\n"
                     "        print(sorted(run(threads, [0, 1, 2, 3])))\n")
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "2"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[1, 1, 1, 1]"
