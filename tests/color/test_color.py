"""Color harmonisation: the LUT op, the grades, the LUT network learning a plate's grade, storing and swapping."""

import numpy as np
import pytest
import torch
from scipy.interpolate import RegularGridInterpolator

from fusion.color.grades import Grade
from fusion.errors import CheckpointError, ConfigError
from fusion.model.color_lut import apply_lut, identity_lut


def test_apply_lut_matches_a_reference_trilinear_lookup():
    torch.manual_seed(0)
    size = 9
    lut = identity_lut(size) + 0.1 * torch.randn(1, 3, size, size, size)
    image = torch.rand(1, 3, 16, 16)
    ramp = np.linspace(0, 1, size)
    colors = image[0].permute(1, 2, 0).reshape(-1, 3).numpy()  # (r, g, b); the LUT is indexed [b, g, r]
    expected = np.stack([RegularGridInterpolator((ramp, ramp, ramp), lut[0, c].numpy())(colors[:, ::-1])
                         for c in range(3)], -1)
    got = apply_lut(image, lut)[0].permute(1, 2, 0).reshape(-1, 3).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_gradients_reach_the_lut_and_the_image():
    lut = identity_lut(5).requires_grad_(True)
    image = torch.rand(2, 3, 8, 8).mul(0.9).add(0.05).requires_grad_(True)
    apply_lut(image, lut.expand(2, -1, -1, -1, -1)).square().sum().backward()
    assert lut.grad.abs().sum() > 0 and image.grad.abs().sum() > 0


def test_grades_change_colors_monotonically_and_none_changes_nothing():
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(8, 3, 1, 64)
    graded = Grade.random(8, torch.Generator().manual_seed(0))(ramp)
    assert (torch.diff(graded, dim=-1) >= -1e-6).all()  # brighter in, never darker out
    assert (graded - ramp).abs().mean() > 0.03
    # Not torch.equal: exposure's sRGB decode and encode round the last float32 bit.
    ungraded = Grade.random(8, torch.Generator().manual_seed(0), identity_share=0.999)(ramp)
    assert torch.allclose(ungraded, ramp, atol=1e-6)


def test_a_stop_doubles_the_light_and_no_stops_change_nothing():
    """Exposure is a gain in linear light: +1 stop doubles mid-grey's 0.18 (a gain on encoded values: 2.2 stops)."""
    from fusion.io.image import srgb_decode, srgb_encode

    mid_grey = torch.from_numpy(srgb_encode(np.full((3, 3, 1, 1), 0.18, np.float32)))
    exposure = lambda stops: Grade(torch.tensor(stops), torch.ones(3, 3), torch.ones(3), torch.ones(3),  # noqa: E731
                                   torch.zeros(3))
    linear = srgb_decode(exposure([1.0, -1.0, 0.0])(mid_grey).numpy())[:, :, 0, 0]
    np.testing.assert_allclose(linear, [[0.36] * 3, [0.09] * 3, [0.18] * 3], atol=1e-3)
    image = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(Grade.none(2)(image), image, atol=1e-6)


def _swap_set(demo_cache, split):
    """Demo crops as plates, the other identity's crop at the same position as the 'decoded' face (a perfect decoder
    stand-in: aligned, another person), at 32 px."""
    import torch.nn.functional as F

    from fusion.color.fit import SwapSet
    from fusion.data.cache import CropSettings, cache_location
    from fusion.data.pack import PackSpec, build_pack
    from fusion.data.triplets import to_float

    cache = cache_location(demo_cache / "data" / "cache", CropSettings(resolution=64, landmarks="dlib"))
    pack = build_pack(cache, ["astronaut", "hopper"], PackSpec(64, 10**6, split=split, holdout=0.25), workers=1)
    a, b = (np.flatnonzero(pack.identity == i) for i in (0, 1))
    n = min(len(a), len(b))
    rows, partners = np.concatenate([a[:n], b[:n]]), np.concatenate([b[:n], a[:n]])
    small = lambda x: F.interpolate(x, size=(32, 32), mode="area")  # noqa: E731
    return SwapSet(small(to_float(pack.images[rows])), small(to_float(pack.images[partners])),
                   small(torch.from_numpy(pack.masks[rows] / np.float32(255))[:, None]))


@pytest.mark.slow
def test_the_lut_learns_to_wear_the_plates_grade_and_beats_stats(demo_cache):
    """Held-out crops under random grades: CIEDE2000 to the graded face falls by half with the LUT, and below stats.

    3,000 steps: since exposure is graded in linear light (a milder change of the encoded values than the gain
    it was), 2,000 left the LUT at about half the ungraded error on this seed, 3,000 at under a quarter.
    """
    from fusion.color.fit import color_scores, train_color
    from fusion.color.options import ColorOptions

    options = ColorOptions(size=9, basis=8, resolution=32, width=16, steps=3000, batch_size=16, lr=3e-3, device="cpu")
    net, losses = train_color(_swap_set(demo_cache, "train"), options)
    scores = color_scores(net, _swap_set(demo_cache, "val"))
    assert scores["graded_lut"] < 0.5 * scores["graded_none"], scores
    assert scores["graded_lut"] < scores["graded_stats"], scores
    assert scores["ungraded_lut"] < 0.5 * scores["graded_none"], scores  # ungraded: the face stays nearly as decoded
    assert losses[-1] < losses[0]


@pytest.fixture(scope="module")
def color_checkpoint(checkpoint, demo_cache):
    from fusion.color.fit import fit_color
    from fusion.color.options import ColorOptions

    before = checkpoint.read_bytes()
    options = ColorOptions(size=5, basis=2, resolution=16, width=4, steps=3, faces=8, device="cpu")
    result = fit_color(checkpoint, None, options, cache_dir=demo_cache / "data" / "cache")
    assert checkpoint.read_bytes() == before  # written beside it, never over it
    return result


def test_the_fit_packs_only_the_crops_it_decodes(color_checkpoint, demo_cache):
    """faces=8 over two identities: 4 crops of each per split at the model's 32 px, not all 43 + 5 of each."""
    from fusion.data.cache import CropSettings, cache_location
    from fusion.data.pack import StagePack

    cache = cache_location(demo_cache / "data" / "cache", CropSettings(resolution=64, landmarks="dlib"))
    packs = [StagePack(folder) for folder in sorted((cache / "packs").glob("*_32px_*"))]
    assert sorted(pack.spec.split for pack in packs) == ["train", "val"]
    crop = 32 * 32 * (3 + 1 + 3) + 68 * 2 * 4 + 8  # bytes of a crop: image, hull, feature maps, landmarks, identity
    for pack in packs:
        assert len(pack) == color_checkpoint.faces == 8 and np.bincount(pack.identity).tolist() == [4, 4]
        written = sum(path.stat().st_size for path in pack.folder.iterdir())
        assert 8 * crop < written < 8 * crop + 4096  # and the arrays' headers and meta.json


@pytest.mark.slow
def test_the_lut_network_is_stored_and_every_color_option_swaps(checkpoint, color_checkpoint, plates, tmp_path):
    from fusion.color.fit import color_path
    from fusion.model.checkpoint import COLOR_SECTION
    from fusion.swap.loader import load_swap_model
    from fusion.swap.pipeline import SwapOptions, swap

    assert color_checkpoint.path == color_path(checkpoint)
    model = load_swap_model(color_checkpoint.path)
    assert model.color is not None and model.color.config.size == 5 and load_swap_model(checkpoint).color is None
    frames = {}
    for color in ("none", "stats", "lut"):
        swap(plates / "plate.0001.png", tmp_path / f"{color}.png", color_checkpoint.path, "hopper",
             SwapOptions(color=color, device="cpu"))
        frames[color] = (tmp_path / f"{color}.png").read_bytes()
    assert frames["stats"] != frames["none"]
    with pytest.raises(ConfigError, match="holds no color LUT; train one with python color.py"):
        swap(plates / "plate.0001.png", tmp_path / "x.png", checkpoint, "hopper", SwapOptions(color="lut"))
    with pytest.raises(ConfigError, match="color=warm: choose one of"):
        swap(plates / "plate.0001.png", tmp_path / "x.png", checkpoint, "hopper", SwapOptions(color="warm"))
    saved = torch.load(color_checkpoint.path, weights_only=True)
    saved[COLOR_SECTION]["config"]["size"] = 9
    torch.save(saved, tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="broken.ckpt: its fusion_color section does not load"):
        load_swap_model(tmp_path / "broken.ckpt")


@pytest.mark.slow
def test_color_py_trains_and_says_how_to_swap_with_it(checkpoint, demo_cache, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "color.py", f"checkpoint={checkpoint}", f"output={tmp_path / 'graded.ckpt'}",
               f"paths.cache_dir={demo_cache / 'data' / 'cache'}", "steps=2", "size=5", "basis=2", "resolution=16",
               "width=4", "faces=4", "device=cpu", f"paths.root_dir={tmp_path}"]
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"swap with it: python swap.py checkpoint={tmp_path / 'graded.ckpt'} color=lut" in result.stdout
    assert "under random grades, CIEDE2000" in result.stdout


def test_the_closing_lines_give_the_color_errors_and_the_swap_through_the_lut():
    from pathlib import Path

    from fusion.color.fit import ColorResult

    scores = {"crops": 80, "graded_none": 9.876, "graded_stats": 4.321, "graded_lut": 2.013, "ungraded_none": 0.0,
              "ungraded_stats": 1.234, "ungraded_lut": 0.5}
    result = ColorResult(Path("run/last.color.ckpt"), scores, faces=800, seconds=90.0)
    assert result.summary() == [
        "trained on 800 swapped faces in 1.5 min",
        "held-out swaps (80) under random grades, CIEDE2000 to the graded face: none 9.88, stats 4.32, lut 2.01; "
        "ungraded: none 0.00, stats 1.23, lut 0.50",
        "checkpoint with the LUT network: run/last.color.ckpt",
        "swap with it: python swap.py checkpoint=run/last.color.ckpt color=lut identity=<whose face> input=<plate> "
        "output=<file>"]
