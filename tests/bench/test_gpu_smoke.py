"""The GPU smoke check on a CPU machine: it skips cleanly, its presets and its shipped
landmarks are right, and its 4K composite runs (on the CPU, with a narrow network)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from fusion.bench import gpu_smoke
from fusion.config import CONF
from fusion.faces.align import alignment_matrix, canonical_points, transform_points, warp_face
from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.widths import resolution_level


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the check runs in full")
def test_without_a_gpu_it_says_so_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "fusion.bench", "gpu-smoke"],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["gpu"] is None and "no CUDA GPU" in report["skipped"]


def test_presets_without_hydra_match_hydra(monkeypatch):
    composed = gpu_smoke.load_paper_preset(CONF)
    for name in ("hydra", "omegaconf"):  # as on a torch + Lightning machine
        monkeypatch.setitem(sys.modules, name, None)
    assert gpu_smoke.load_paper_preset(CONF) == composed
    curriculum, model = composed
    assert [s.resolution for s in curriculum.stages] == [16, 32, 64, 128, 256, 512, 1024]
    assert model["net"]["width_multiplier"] == 1.0 and "_target_" not in model


@pytest.fixture(scope="module")
def plate_and_landmarks():
    return gpu_smoke.plate_with_face()


def test_shipped_landmarks_land_on_the_face(plate_and_landmarks, dlib_backend):
    plate, landmarks = plate_and_landmarks
    assert plate.shape == (2160, 3840, 3) and plate.dtype == np.uint16 and landmarks.shape == (68, 2)
    matrix = alignment_matrix(landmarks, 1024)
    eyes = transform_points(landmarks[[36, 45]].astype(np.float64), matrix)
    assert np.abs(eyes - canonical_points(1024)[:2]).max() < 8  # outer eye corners, in 1024 px crop pixels
    # The detector on the aligned crop finds the points the file says: 6 px apart on average
    # (it ran once, the file has the mean of 4 jittered runs); landmarks shifted 30 plate px give 26.
    crop = (warp_face(plate, matrix, 1024) // 257).astype(np.uint8)
    boxes = dlib_backend.detect(crop)
    assert len(boxes) == 1
    found = dlib_backend.landmarks(crop, boxes[0])
    assert np.linalg.norm(found - transform_points(landmarks.astype(np.float64), matrix), axis=1).mean() < 10


def test_4k_composite_on_cpu(plate_and_landmarks):
    net = FusionNet.build(FusionConfig(identities=2, resolution=16, width_multiplier=1 / 64),
                          ["full"] * (resolution_level(1024) - resolution_level(16)))
    record, plate, frame = gpu_smoke.composite_4k(net, torch.device("cpu"), precision="fp32")
    assert record["resolution"] == 1024 and record["plate"] == "3840x2160 uint16"
    assert record["same_shape_and_dtype"] and record["finite"] and record["outside_matte_unchanged"]
    assert record["changed_pixels"] > 100_000
    assert min(record["warp_ms"], record["decode_ms"], record["composite_ms"]) > 0
    # Only the face changed: outside the landmarks' box (grown by a quarter a side) the plate is bit for bit.
    _, landmarks = plate_and_landmarks
    low, high = landmarks.min(0), landmarks.max(0)
    x0, y0 = np.floor(low - (high - low) / 4).astype(int)
    x1, y1 = np.ceil(high + (high - low) / 4).astype(int)
    outside = np.ones(plate.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(frame[outside], plate[outside])
    assert not np.array_equal(frame[~outside], plate[~outside])
