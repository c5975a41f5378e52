"""Shot tuning: the encoder learns the shot, every decoder stays bit for bit, the swap applies it safely."""

import numpy as np
import pytest
import torch

from fusion.demo.footage import demo_photos, jitter_frame
from fusion.errors import CheckpointError, OutputError
from fusion.io.image import read_image, write_image
from fusion.swap.loader import load_swap_model
from fusion.swap.tuned_encoder import apply_tuned_encoder, tuning_path
from fusion.tune.options import ShotTuningOptions
from fusion.tune.shot import tune_shot

pytestmark = pytest.mark.slow  # each prepares a shot with dlib and tunes: about a minute in all

FAST = ShotTuningOptions(steps=40, lr=1e-3, batch_size=4, holdout=0.25, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """Hopper under a new light: 16 jittered frames graded warm and dark, as a folder of PNGs."""
    folder = tmp_path_factory.mktemp("plates") / "sc01_tk2"
    rng = np.random.default_rng(3)
    photo = demo_photos()["hopper"]
    for i in range(16):
        frame = jitter_frame(photo, i / 16, rng).astype(np.float32) * [1.0, 0.8, 0.55]
        write_image(folder / f"sc01.{i:04d}.png", np.clip(frame, 0, 255).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def tuned(checkpoint, shot, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    return tune_shot(checkpoint, shot, "hopper", FAST, work=work), work


def test_tuning_moves_the_encoder_and_nothing_else(checkpoint, tuned):
    result, _ = tuned
    assert result.path == tuning_path(checkpoint, "sc01_tk2") and result.path.is_file()
    assert result.frames_tuned == 12 and result.frames_held_out == 4  # the last quarter scores the tuning
    base = load_swap_model(checkpoint, "cpu", "fp32")
    model = load_swap_model(checkpoint, "cpu", "fp32")
    section = apply_tuned_encoder(model, result.path, checkpoint)
    assert section["identity"] == "hopper" and section["options"]["steps"] == 40
    before, after = base.net.state_dict(), model.net.state_dict()
    changed = sorted(name for name in before if not torch.equal(before[name], after[name]))
    assert changed == result.parameters  # exactly the tuned weights changed ...
    assert all(name.startswith(("encoder.", "from_rgb.")) for name in changed) and len(changed) > 4
    assert not any(name.startswith(("decoders.", "shared.")) for name in changed)  # ... every decoder bit for bit
    assert result.ssim_after > result.ssim_before + 0.02, result  # the held-out frames of the shot reconstruct better


def test_only_the_chosen_levels_train(checkpoint, shot, tmp_path):
    result = tune_shot(checkpoint, shot, "hopper", ShotTuningOptions(**{**FAST.__dict__, "steps": 2, "levels": [0]}),
                       out=tmp_path / "deep.pt", work=tmp_path / "work")
    assert result.parameters and all(name.startswith("encoder.0.") for name in result.parameters)  # no from_rgb


def test_a_tuning_fits_only_its_checkpoint_and_never_replaces_one(checkpoint, shot, tuned, tmp_path):
    from fusion.model.checkpoint import save_untrained

    result, work = tuned
    other = save_untrained(tmp_path / "other.ckpt", ["astronaut", "hopper"], {"resolution": 32, "width_multiplier": 0.125,
                                                                                "seed": 1}, {"resolution": 64})
    with pytest.raises(CheckpointError, match="tuned from last.ckpt, not from"):
        apply_tuned_encoder(load_swap_model(other, "cpu", "fp32"), result.path, other)
    with pytest.raises(OutputError, match="inputs are never replaced"):
        tune_shot(checkpoint, shot, "hopper", FAST, out=checkpoint)
    with pytest.raises(OutputError, match="overwrite=true"):
        tune_shot(checkpoint, shot, "hopper", FAST, work=work)
    with pytest.raises(CheckpointError, match="astronaut, hopper"):
        tune_shot(checkpoint, shot, "nobody", FAST, out=tmp_path / "x.pt")


def test_the_swap_decodes_through_the_tuned_encoder(checkpoint, shot, tuned, tmp_path):
    from fusion.io.image import read_image
    from fusion.swap.pipeline import SwapOptions, swap

    result, _ = tuned
    options = {"device": "cpu", "precision": "fp32", "landmarks": "dlib"}
    swap(shot, tmp_path / "plain", checkpoint, "astronaut", SwapOptions(**options))
    swap(shot, tmp_path / "tuned", checkpoint, "astronaut", SwapOptions(**options, tuning=str(result.path)))
    first = sorted(p.name for p in shot.iterdir())[0]
    plain, tuned_frame = read_image(tmp_path / "plain" / first), read_image(tmp_path / "tuned" / first)
    assert np.abs(plain.astype(int) - tuned_frame).mean() > 0.5


def regraded(shot, folder, count=4):
    """The first `count` frames of `shot` under the same names, graded darker: a re-delivered plate."""
    for path in sorted(shot.iterdir())[:count]:
        write_image(folder / path.name, (read_image(path) * 0.7).astype(np.uint8))
    return folder


def test_a_swap_says_when_its_tuning_was_made_on_another_shot(checkpoint, shot, tuned, tmp_path, caplog):
    """The same plate swaps without a word; a re-delivered plate of the same name and another shot are named,
    with the tuning's shot, in the report and the log, and still swap."""
    import shutil

    from fusion.swap.pipeline import SwapOptions, swap

    result, _ = tuned
    options = SwapOptions(device="cpu", precision="fp32", landmarks="dlib", tuning=str(result.path))
    same = swap(shot, tmp_path / "same", checkpoint, "astronaut", options)
    assert same.warnings == [] and same.swapped == 16
    moved = tmp_path / "moved" / "sc01_tk2"
    shutil.copytree(shot, moved)
    assert swap(moved, tmp_path / "moved_out", checkpoint, "astronaut", options).warnings == []  # same frames
    redelivered = tmp_path / "redelivered"
    shutil.move(shot, redelivered)
    try:
        regraded(redelivered, shot)
        caplog.set_level("WARNING")
        report = swap(shot, tmp_path / "other", checkpoint, "astronaut", options)
    finally:
        shutil.rmtree(shot)
        shutil.move(redelivered, shot)
    [warning] = report.warnings
    assert f"made on the shot {shot}" in warning and "same name but other frames" in warning
    assert report.swapped == 4 and warning in caplog.text


def test_a_work_folder_serves_only_the_shot_it_was_made_from(checkpoint, shot, tuned, tmp_path):
    """Another shot, the same name re-delivered with other frames or the shot in another colorspace is refused
    in a kept work folder, which stays as it was; a work folder an older tune.py made (crops but no shot named)
    is refused too."""
    result, work = tuned
    index = (work / "cache" / "hopper" / "index.json").read_bytes()
    srgb = ShotTuningOptions(**{**vars(FAST), "colorspace": "srgb_tx"})
    with pytest.raises(OutputError, match=f"holds the crops of {shot} taken as colorspace=None, not srgb_tx"):
        tune_shot(checkpoint, shot, "hopper", srgb, out=tmp_path / "x.pt", work=work)
    other = regraded(shot, tmp_path / "sc01_tk2")
    with pytest.raises(OutputError, match=f"holds the crops of shot {shot}, and {other} is another shot"):
        tune_shot(checkpoint, other, "hopper", FAST, out=tmp_path / "x.pt", work=work)
    assert (work / "cache" / "hopper" / "index.json").read_bytes() == index and not (tmp_path / "x.pt").exists()
    old = tmp_path / "old_work"
    (old / "cache" / "hopper").mkdir(parents=True)
    with pytest.raises(OutputError, match="crops of a shot it does not name"):
        tune_shot(checkpoint, other, "hopper", FAST, out=tmp_path / "x.pt", work=old)


def test_work_files_stay_beside_the_tuning_and_go_with_it(checkpoint, shot, tmp_path, monkeypatch):
    """Without work=, the shot's crops and packs live in a hidden folder beside the tuned file (not /tmp) and
    are removed when the tuning is written."""
    import fusion.tune.shot as tuning

    seen = []
    real = tuning.prepare
    monkeypatch.setattr(tuning, "prepare", lambda footage, cache, *a, **k: seen.append(cache) or real(footage, cache, *a, **k))
    out = tmp_path / "tunings" / "sc01.pt"
    tune_shot(checkpoint, shot, "hopper", ShotTuningOptions(**{**FAST.__dict__, "steps": 1}), out=out)
    assert seen[0].parent.parent == out.parent and seen[0].parent.name.startswith(".sc01.pt.work-")
    assert sorted(p.name for p in out.parent.iterdir()) == ["sc01.pt"]


def test_tune_py_tunes_and_says_how_to_swap_with_it(checkpoint, shot, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "sc01.pt"
    command = [sys.executable, "tune.py", f"checkpoint={checkpoint}", "identity=hopper", f"shot={shot}", "steps=3",
               "device=cpu", "precision=fp32", f"output={out}", f"paths.root_dir={tmp_path}"]
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[-3].startswith("hopper's held-out frames of the shot (3; tuned on 13): masked SSIM 0.")  # the default holdout, 20%
    assert lines[-2] == f"tuned encoder: {out}" and f"tuning={out}" in lines[-1] and out.is_file()
    again = subprocess.run(command, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 2 and "overwrite=true" in again.stderr  # one line, nothing replaced


def test_a_kept_work_folder_is_reused_and_nothing_in_it_but_links_is_touched(checkpoint, shot, tuned, tmp_path):
    result, work = tuned
    again = tune_shot(checkpoint, shot, "hopper", ShotTuningOptions(**{**FAST.__dict__, "steps": 1}),
                      out=tmp_path / "again.pt", work=work)
    assert again.frames_tuned == result.frames_tuned
    stranger = tmp_path / "work" / "footage" / "hopper"
    stranger.mkdir(parents=True)
    (stranger / "plate.0001.png").write_bytes(b"not ours")
    with pytest.raises(OutputError, match="not a link tune.py made"):
        tune_shot(checkpoint, shot, "hopper", FAST, out=tmp_path / "x.pt", work=tmp_path / "work")
    assert (stranger / "plate.0001.png").read_bytes() == b"not ours"


def test_evaluate_scores_the_shot_before_and_after_tuning(checkpoint, tuned, demo_cache, tmp_path):
    """The shot's crops beside another identity's make a cache evaluate can score, with and without the tuning."""
    from fusion.data.cache import CropSettings, cache_location
    from fusion.eval.evaluate import EvaluateOptions, evaluate

    result, work = tuned
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "hopper").symlink_to(work / "cache" / "hopper", target_is_directory=True)
    demo = cache_location(demo_cache / "data" / "cache", CropSettings(resolution=64, landmarks="dlib"))
    (cache / "astronaut").symlink_to(demo / "astronaut", target_is_directory=True)
    options = {"device": "cpu", "holdout": 0.25}
    plain = evaluate(checkpoint, cache, tmp_path / "plain", EvaluateOptions(**options))
    tuned_metrics = evaluate(checkpoint, cache, tmp_path / "tuned", EvaluateOptions(**options, tuning=str(result.path)))
    assert plain["identities"]["hopper"]["frames"] == 4  # the shot's last quarter: never tuned on
    assert "no footage named in" in plain["plate_scale_skipped"]  # a cache put together by hand: crop space only
    assert tuned_metrics["identities"]["hopper"]["ssim"] > plain["identities"]["hopper"]["ssim"] + 0.02


def test_the_input_level_brings_its_input_layer(checkpoint):
    from fusion.tune.shot import tuned_parameters

    model = load_swap_model(checkpoint, "cpu", "fp32")
    top = len(model.net.encoder) - 1
    assert any(name.startswith("from_rgb.") for name in tuned_parameters(model, [top]))
    assert not any(name.startswith("from_rgb.") for name in tuned_parameters(model, [0]))
    assert set(tuned_parameters(model, None)) == set(tuned_parameters(model, list(range(top + 1))))
