"""Evaluation at plate scale, part by part: where the footage is found, the view of each face, sharpness in the
plate's face box, and the options it refuses. Its whole path runs in tests/eval/test_evaluate.py."""

import json

import cv2
import numpy as np
import pytest
import torch

from fusion.errors import ConfigError, UserError
from fusion.eval.options import EvaluateOptions
from fusion.faces.align import alignment_matrix, transform_points, warp_face
from fusion.faces.hull import hull_polygon
from fusion.io.colorspace import ColorConversion
from fusion.swap.frames import Face


@pytest.fixture(scope="module")
def hopper_points(photos, dlib_backend):
    """(plate, landmarks) of Grace Hopper's photo (512 px; her face about 250 px wide)."""
    from fusion.faces.landmarks import jittered_landmarks

    plate = photos["hopper"]
    return plate, jittered_landmarks(dlib_backend, plate, dlib_backend.detect(plate)[0], 4).astype(np.float64)


@pytest.fixture(scope="module")
def hopper_face(hopper_points):
    """(plate, Face aligned for 64 px crops as the swap aligns it)."""
    plate, points = hopper_points
    return plate, Face(alignment_matrix(points, 64), hull_polygon(points))


def test_the_footage_is_the_one_given_else_the_one_the_cache_names_where_it_is_here(tmp_path):
    from fusion.eval.plate_heldout import footage_root, missing_footage

    cache, footage = tmp_path / "cache", tmp_path / "footage"
    cache.mkdir()
    footage.mkdir()
    (cache / "report.json").write_text(json.dumps({"footage": str(footage)}))
    assert footage_root(cache, None) == footage == footage_root(cache, str(footage))
    moved = tmp_path / "moved"
    with pytest.raises(UserError, match=f"footage {moved} is not a folder here: evaluating at plate scale reads the "
                                        "held-out frames from the footage the cache was prepared from; give "
                                        "footage=PATH .*, or plate_scale=false to score in crop space only"):
        footage_root(cache, str(moved))
    (cache / "report.json").write_text(json.dumps({"footage": str(moved)}))
    assert footage_root(cache, None) is None  # the cache moved: evaluate scores crop space and says why
    (cache / "report.json").unlink()
    assert footage_root(cache, None) is None
    assert missing_footage(cache, None).startswith(f"no footage named in {cache / 'report.json'}: ")


def test_a_source_the_footage_lacks_is_named_with_what_it_has(tmp_path, photos):
    from fusion.eval.plate_heldout import PlateHeldOut
    from fusion.io.image import write_image

    write_image(tmp_path / "hopper" / "take1" / "f0.png", photos["hopper"])
    plates = PlateHeldOut(None, tmp_path, None, 64, EvaluateOptions().find)
    assert plates.source("hopper", "take1").frames == 1
    with pytest.raises(UserError, match=r"hopper's footage has no 'take2', which the cache was prepared from \(it "
                                        r"has \['take1'\]\); give footage= the folder prepare.py read"):
        plates.source("hopper", "take2")


def test_plate_scale_refuses_degraded_crops_and_unknown_colorspaces():
    with pytest.raises(ConfigError, match="degrade the held-out crops, not the plates: give plate_scale=false"):
        EvaluateOptions(plate_blur=1.5)
    assert EvaluateOptions(plate_blur=1.5, plate_scale=False).plate["blur"] == 1.5
    with pytest.raises(ConfigError, match="colorspace=NoSuchSpace"):
        EvaluateOptions(colorspace="NoSuchSpace")
    assert EvaluateOptions(colorspace="ACEScg").find.colorspace == "ACEScg"


def test_a_view_is_the_networks_crop_at_the_views_size(hopper_face):
    """Shrunk to the crop's size, the 512 px view of a face is the 64 px crop the network sees: 0.020 apart
    (resampled two ways); a view scaled without keeping pixel centres was 3.5 px off and 0.045 apart."""
    from fusion.eval.plate_heldout import VIEW_SIZE, view_of

    plate, face = hopper_face
    view = view_of(plate, face.matrix, 64, ColorConversion())
    crop = warp_face(plate, face.matrix, 64) / np.float32(255)
    assert view.shape == (VIEW_SIZE, VIEW_SIZE, 3) and view.dtype == np.float32
    shrunk = cv2.resize(view, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - crop).mean() < 0.03


def test_sharpness_in_the_plate_is_one_for_the_plate_and_falls_with_a_soft_face(hopper_face):
    from fusion.eval.plate_swap import plate_sharpness

    plate, face = hopper_face
    colors = ColorConversion()
    assert plate_sharpness(plate, plate, face, colors) == pytest.approx(1.0)
    soft = cv2.GaussianBlur(plate, (0, 0), 3)
    outside = np.zeros(plate.shape[:2], np.uint8)
    cv2.fillConvexPoly(outside, np.round(face.polygon).astype(np.int32), 1)
    only_face = np.where(outside[..., None] == 1, soft, plate)  # the plate's own pixels outside the hull
    ratio = plate_sharpness(only_face, plate, face, colors)
    assert ratio < 0.3
    noisy = np.clip(soft + np.random.default_rng(0).normal(0, 12, soft.shape), 0, 255).astype(np.uint8)
    assert plate_sharpness(np.where(outside[..., None] == 1, noisy, plate), plate, face, colors) < 0.3  # not fooled


def test_the_plate_swap_composites_into_the_plate_and_is_judged_at_its_resolution(hopper_points):
    """A decode that returns the network's crop itself, composited back by the swap's own composite: the views are
    the plate's and the mean color unchanged (a black face laid over is not); in the plate, a 256 px crop is as
    sharp as the plate (1.17) and a 64 px one, warped up four times, soft (0.14), which crop space cannot see."""
    from fusion.eval.plate_heldout import plate_batch
    from fusion.eval.plate_swap import PlateSwapper
    from fusion.swap.frames import PlateFrame

    plate, points = hopper_points
    swapper = PlateSwapper(None, None, None, {"blend": "multiband", "erode": None, "feather": None, "quality": "none"})
    sharpness = {}
    for size in (64, 256):
        face = Face(alignment_matrix(points, size), hull_polygon(points))
        frames = [PlateFrame(0, plate, face), PlateFrame(1, plate, face)]
        batch = plate_batch(frames, np.stack([points] * 2), [("take1", 0), ("take1", 1)], size, ColorConversion())
        assert batch.crops.shape == (2, 3, size, size) and batch.views.shape == (2, 3, 512, 512)
        np.testing.assert_allclose(batch.points[1], transform_points(points, face.matrix))  # in crop pixels
        result = swapper.composite(batch.crops, batch, None)
        assert all(error < 0.5 for error in result.color_error)
        assert (result.views - batch.views).abs().mean() < 0.02
        sharpness[size] = result.sharpness
        over = PlateSwapper(None, None, None, {"blend": "alpha", "erode": None, "feather": None, "quality": "none"})
        assert all(error > 20 for error in over.composite(torch.zeros_like(batch.crops), batch, None).color_error)
    assert all(ratio > 0.9 for ratio in sharpness[256]) and all(ratio < 0.3 for ratio in sharpness[64])
