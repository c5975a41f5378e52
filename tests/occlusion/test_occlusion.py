"""The learned face matte: occluders with known mattes, the EMA teacher, painted mattes, training, storing, swapping."""

import json

import cv2
import numpy as np
import pytest
import torch

from fusion.errors import CheckpointError, ConfigError
from fusion.io.image import read_image, write_image
from fusion.model.checkpoint import MATTE_SECTION, read_checkpoint
from fusion.model.matte_net import MatteNet
from fusion.model.section_configs import MatteConfig
from fusion.occlusion.occluders import SHAPES, OccluderBank, shape_alpha
from fusion.occlusion.teacher import EmaTeacher


@pytest.mark.parametrize("kind", SHAPES)
def test_every_occluder_shape_covers_part_of_the_crop_and_is_pasted_where_its_alpha_says(kind):
    rng = np.random.default_rng(4)
    alpha = shape_alpha(kind, 96, rng, OccluderBank("test").silhouette)
    assert 0.002 < alpha.mean() < 0.7 and alpha.max() == 1.0
    crop = np.random.default_rng(0).uniform(0, 1, (96, 96, 3)).astype(np.float32)
    image, union = OccluderBank("test").paste(crop, rng, count=2)
    np.testing.assert_array_equal(image[union == 0], crop[union == 0])
    assert np.abs(image[union == 1] - crop[union == 1]).mean() > 0.05


def test_train_and_test_banks_texture_from_different_images():
    train, test = OccluderBank("train"), OccluderBank("test")
    assert not {image.tobytes()[:4096] for image in train.images} & {image.tobytes()[:4096] for image in test.images}


def test_the_teacher_is_the_ema_of_the_student():
    torch.manual_seed(0)
    student = MatteNet(MatteConfig(resolution=32, width=8, depth=2))
    teacher = EmaTeacher(student, decay=0.9)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    expected = None
    for _ in range(3):
        student(torch.rand(2, 3, 32, 32))[0].mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        teacher.update(student)
        now = {k: v.clone() for k, v in student.state_dict().items()}
        expected = now if expected is None else {k: 0.9 * expected[k] + 0.1 * now[k] for k in now}
    for name, value in teacher.module.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=1e-6)
    assert not any(p.requires_grad for p in teacher.parameters())


def test_painted_mattes_are_warped_into_their_crops(demo_cache, tmp_path):
    from fusion.data.cache import CropSettings, cache_location
    from fusion.data.pack import PackSpec, build_pack
    from fusion.occlusion.painted import painted_mattes

    cache = cache_location(demo_cache / "data" / "cache", CropSettings(resolution=64, landmarks="dlib"))
    pack = build_pack(cache, ["hopper"], PackSpec(64, 8), workers=1)
    identity, key = pack.keys[3].split("/", 1)
    record = json.loads((cache / identity / "records" / f"{key}.json").read_text())
    matrix = np.asarray(record["matrix"])
    centre = np.linalg.solve(matrix[:, :2], np.array([32, 40]) - matrix[:, 2])  # crop (32, 40) in the plate
    painted = np.full((512, 512), 255, np.uint8)
    x, y = np.round(centre).astype(int)
    painted[y - 12:y + 12, x - 12:x + 12] = 0  # a black square: something in front of the face there
    write_image(tmp_path / "mattes" / identity / f"{key}.png", painted)
    found = painted_mattes(tmp_path / "mattes", cache, pack.keys, 64)
    assert list(found) == [3]
    assert found[3][40, 32] < 0.05 and found[3][10, 10] > 0.95
    with pytest.raises(ConfigError, match="not a folder"):
        painted_mattes(tmp_path / "nowhere", cache, pack.keys, 64)


# Training, storing and swapping: slow (a matte network trained for a few hundred steps on the demo cache)

FAST = dict(resolution=64, width=8, depth=3, steps=300, batch_size=8, lr=2e-3, labelled=40, device="cpu")


@pytest.fixture(scope="module")
def matte_checkpoint(checkpoint, demo_cache):
    from fusion.occlusion.fit import fit_matte
    from fusion.occlusion.options import MatteOptions

    before = checkpoint.read_bytes()
    result = fit_matte(checkpoint, None, MatteOptions(**FAST), cache_dir=demo_cache / "data" / "cache")
    assert checkpoint.read_bytes() == before  # written beside it, never over it
    return result


@pytest.fixture(scope="module")
def occluded_plate(tmp_path_factory, photos, dlib_backend):
    """Hopper with a flat green disk over her mouth, and the disk's mask."""
    plate = photos["hopper"].copy()
    points = dlib_backend.landmarks(plate, dlib_backend.detect(plate)[0])
    mouth, width = points[48:68].mean(0), np.ptp(points[:, 0])
    disk = np.zeros(plate.shape[:2], np.uint8)
    cv2.circle(disk, tuple(np.round(mouth).astype(int)), int(width * 0.15), 1, -1)
    plate[disk > 0] = (40, 200, 60)
    path = tmp_path_factory.mktemp("occluded") / "plate.png"
    write_image(path, plate)
    return path, disk > 0


@pytest.mark.slow
def test_the_matte_is_stored_in_a_new_checkpoint_and_scored(checkpoint, matte_checkpoint):
    from fusion.occlusion.fit import matte_checkpoint_path
    from fusion.swap.loader import load_swap_model

    assert matte_checkpoint.path == matte_checkpoint_path(checkpoint) and matte_checkpoint.path.is_file()
    section = read_checkpoint(matte_checkpoint.path)[MATTE_SECTION]
    assert section["config"] == {"resolution": 64, "width": 8, "depth": 3}
    assert section["training"]["labelled"] == 40 and section["training"]["options"]["semi_supervised"] is True
    scores = matte_checkpoint.scores
    assert scores["crops"] > 0 and scores["occluded_learned"] > scores["occluded_hull"], scores
    assert scores["clean_learned_vs_hull"] > 0.9, scores  # it does not eat the face to find occluders
    assert matte_checkpoint.losses[-1] < matte_checkpoint.losses[0]
    assert load_swap_model(matte_checkpoint.path).matte is not None and load_swap_model(checkpoint).matte is None


@pytest.mark.slow
def test_the_swap_keeps_a_known_occluder_only_with_the_learned_matte(checkpoint, matte_checkpoint, occluded_plate,
                                                                     tmp_path):
    from fusion.swap.pipeline import SwapOptions, swap

    path, disk = occluded_plate
    plate = read_image(path)
    frames, mattes = {}, {}
    for matte, model in (("hull", checkpoint), ("learned", matte_checkpoint.path)):
        out = tmp_path / f"{matte}.png"
        swap(path, out, model, "astronaut", SwapOptions(matte=matte, write_matte=True, device="cpu"))
        frames[matte] = read_image(out)
        mattes[matte] = read_image(tmp_path / f"{matte}_matte" / f"{path.stem}.png") / 65535
    assert (frames["hull"][disk] != plate[disk]).any(axis=-1).mean() > 0.9  # the hull pastes the face over it
    kept = (frames["learned"][disk] == plate[disk]).all(axis=-1).mean()
    assert kept > 0.95, kept  # the learned matte keeps the occluder as filmed
    assert (mattes["learned"] > 0).sum() > 0.7 * (mattes["hull"] > 0).sum()  # and still swaps the face


@pytest.mark.slow
def test_matte_refusals_name_the_file_and_the_fix(checkpoint, matte_checkpoint, occluded_plate, tmp_path):
    from fusion.swap.loader import load_swap_model
    from fusion.swap.pipeline import SwapOptions, swap

    with pytest.raises(ConfigError, match="holds no learned matte; train one with python matte.py"):
        swap(occluded_plate[0], tmp_path / "out.png", checkpoint, "hopper", SwapOptions(matte="learned"))
    with pytest.raises(ConfigError, match="matte=alpha: choose one of"):
        swap(occluded_plate[0], tmp_path / "out.png", checkpoint, "hopper", SwapOptions(matte="alpha"))
    saved = torch.load(matte_checkpoint.path, weights_only=True)
    saved[MATTE_SECTION]["config"]["width"] = 12
    torch.save(saved, tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="broken.ckpt: its fusion_matte section does not load"):
        load_swap_model(tmp_path / "broken.ckpt")


@pytest.mark.slow
def test_evaluate_reports_the_matte_and_composites_through_it(matte_checkpoint, demo_cache, tmp_path):
    from fusion.eval.evaluate import EvaluateOptions, evaluate

    metrics = evaluate(matte_checkpoint.path, None, tmp_path / "eval", EvaluateOptions(matte="learned", device="cpu"),
                       cache_dir=demo_cache / "data" / "cache")
    assert metrics["composite"]["matte"] == "learned"
    assert metrics["matte_scores"] == pytest.approx(matte_checkpoint.scores)  # the same held-out crops and seed


@pytest.mark.slow
def test_matte_py_trains_and_says_how_to_swap_with_it(checkpoint, demo_cache, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "matte.py", f"checkpoint={checkpoint}", f"output={tmp_path / 'with_matte.ckpt'}",
               f"paths.cache_dir={demo_cache / 'data' / 'cache'}", "steps=3", "resolution=32", "width=4", "depth=2",
               "device=cpu", f"paths.root_dir={tmp_path}"]
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"swap with it: python swap.py checkpoint={tmp_path / 'with_matte.ckpt'} matte=learned" in result.stdout
    assert "held-out crops" in result.stdout and (tmp_path / "with_matte.ckpt").is_file()
    again = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "overwrite=true" in again.stderr  # a previous matte checkpoint is kept


def test_the_closing_lines_give_the_data_the_held_out_iou_and_the_swap_through_the_matte():
    from pathlib import Path

    from fusion.occlusion.fit import MatteResult

    scores = {"crops": 20, "occluded_learned": 0.8123, "occluded_hull": 0.6, "clean_learned_vs_hull": 0.9561}
    result = MatteResult(Path("run/last.matte.ckpt"), scores, labelled=200, unlabelled=180, painted=3, seconds=150.0)
    assert result.summary() == [
        "trained on 200 labelled crops (+3 painted) and 180 unlabelled in 2.5 min",
        "held-out crops (20) with occluders: IoU 0.812 (the hull alone 0.600); without: 0.956 of the hull",
        "checkpoint with the matte: run/last.matte.ckpt",
        "swap with it: python swap.py checkpoint=run/last.matte.ckpt matte=learned identity=<whose face> "
        "input=<plate> output=<file>"]
