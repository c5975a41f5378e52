"""`evaluate` on the demo footage with an untrained network: every metric and the sheet, in batches."""

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from fusion.data.cache import CropSettings, cache_location
from fusion.errors import ConfigError, OutputError, UserError
from fusion.io.image import read_image
from fusion.swap.loader import SwapModel


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(checkpoint, cache): test_evaluate_writes_metrics_and_sheet's setup, 2 held-out frames per identity."""
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions
    from fusion.demo.footage import make_demo_footage
    from fusion.model.checkpoint import save_untrained

    root = tmp_path_factory.mktemp("demo")
    footage = make_demo_footage(root / "footage", frames=20)
    settings = CropSettings(resolution=64, landmarks="dlib")
    prepare(footage, root / "cache", settings, PrepareOptions(contact_sheet=0))
    checkpoint = save_untrained(root / "last.ckpt", ["astronaut", "hopper"],
                                {"resolution": 32, "width_multiplier": 0.125}, asdict(settings))
    return checkpoint, root / "cache"


@pytest.fixture(scope="module")
def takes(tmp_path_factory, photos):
    """(cache, checkpoint of astronaut and hopper, checkpoint that adds `nobody`): each of the two filmed in two
    takes of 12 frames (astronaut's take2 loses frame 10 to a frame with no face); nobody's footage has no face."""
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions
    from fusion.demo.footage import jitter_frame
    from fusion.io.image import write_image
    from fusion.model.checkpoint import save_untrained

    root, rng = tmp_path_factory.mktemp("takes"), np.random.default_rng(0)
    for name in ("astronaut", "hopper"):
        for take in ("take1", "take2"):
            for i in range(12):
                blank = (name, take, i) == ("astronaut", "take2", 10)
                frame = np.full_like(photos[name], 90) if blank else jitter_frame(photos[name], i / 12, rng)
                write_image(root / "footage" / name / take / f"f{i:02d}.png", frame)
    for i in range(3):
        write_image(root / "footage" / "nobody" / f"f{i}.png", np.full((256, 256, 3), 90, np.uint8))
    settings = CropSettings(resolution=64, landmarks="dlib")
    prepare(root / "footage", root / "cache", settings, PrepareOptions(contact_sheet=0))
    net = {"resolution": 32, "width_multiplier": 0.125}
    return (root / "cache", save_untrained(root / "two.ckpt", ["astronaut", "hopper"], net, asdict(settings)),
            save_untrained(root / "three.ckpt", ["astronaut", "hopper", "nobody"], net, asdict(settings)))


def test_flicker_pairs_only_frames_that_follow_in_one_take(takes, tmp_path, monkeypatch):
    """A quarter of each take held out: astronaut's frames 9-11 of take1 and 8, 9, 11 of take2 make 3 pairs, not
    the 5 of one joined sequence; hopper's 6 frames make 4. The pack holds the 12 frames scored, no more."""
    import fusion.eval.evaluate as module
    from fusion.data.pack import StagePack
    from fusion.metrics.temporal import TemporalRatio

    cache, checkpoint, _ = takes
    calls, add = [], TemporalRatio.add

    def recorded(ratio, swap, plate, masks, at=None):
        calls.append((ratio, at))
        return add(ratio, swap, plate, masks, at)

    monkeypatch.setattr(TemporalRatio, "add", recorded)
    options = module.EvaluateOptions(holdout=0.25, device="cpu", batch_size=4)
    metrics = module.evaluate(checkpoint, cache, tmp_path / "eval", options)
    positions = [at for _, at in calls][::2]  # each batch goes to the self-swap's ratio and the other identity's
    ratios = list(dict.fromkeys(ratio for ratio, _ in calls))
    assert positions[:2] == [[("take1", 9), ("take1", 10), ("take1", 11), ("take2", 8)], [("take2", 9), ("take2", 11)]]
    crop_pairs = [ratio.pairs for ratio in ratios[:4]]  # astronaut's self-swap, -> hopper; hopper's -> astronaut, own
    assert crop_pairs == [3, 3, 4, 4]
    # at plate scale each take is read as a plate of its held-out frames (take2's 8-11: 10 has no face, not held
    # out), so a batch ends with its take, and the same frames follow one another
    assert positions[4:6] == [[("take1", 9), ("take1", 10), ("take1", 11)], [("take2", 8), ("take2", 9), ("take2", 11)]]
    assert [ratio.pairs for ratio in ratios[4:]] == crop_pairs
    for section in (metrics, metrics["plate_scale"]):
        assert all(swap["temporal_ratio"] > 0 for swap in section["swaps"].values())
        assert [v["frames"] for v in section["identities"].values()] == [6, 6]
    assert metrics["plate_scale"]["frames_without_face"] == {"astronaut": 0, "hopper": 0}
    (pack,) = [StagePack(folder) for folder in (cache / "packs").iterdir()]
    assert (pack.spec.split, pack.spec.resolution, len(pack)) == ("val", 32, 12)
    crop = 32 * 32 * (3 + 1 + 3) + 68 * 2 * 4 + 8  # bytes of a crop: image, hull, feature maps, landmarks, identity
    assert 12 * crop < sum(path.stat().st_size for path in pack.folder.iterdir()) < 12 * crop + 4096


def test_an_identity_without_crops_is_one_line_that_names_it_and_the_fix(takes, tmp_path):
    """Not Hydra's ValueError and exit 1: evaluate.py prints what to do in one line and exits 2."""
    import subprocess
    import sys

    from fusion.eval.evaluate import evaluate

    cache, _, checkpoint = takes
    message = (f"identity 'nobody' has no crops in the cache {cache}: prepare found no usable face in its footage; "
               "run prepare on footage where its face is visible, or leave 'nobody' out of the identities")
    with pytest.raises(UserError) as caught:
        evaluate(checkpoint, cache, tmp_path / "eval")
    assert str(caught.value) == message
    result = subprocess.run([sys.executable, "evaluate.py", f"checkpoint={checkpoint}", f"cache_folder={cache}",
                             f"output={tmp_path / 'eval'}", "device=cpu", f"paths.root_dir={tmp_path}"],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300)
    assert (result.returncode, result.stderr) == (2, f"evaluate failed: {message}\n"), result.stderr[-3000:]
    assert not (tmp_path / "eval").exists()


@pytest.mark.slow
def test_evaluate_in_batches_equals_one_batch(demo, tmp_path, monkeypatch):
    """Frame by frame gives the metrics and sheet of one batch, and never holds more than a batch as float."""
    import fusion.eval.evaluate as module
    import fusion.eval.heldout as heldout

    checkpoint, cache = demo
    sizes = {"decode": [], "to_float": []}
    decode, to_float = SwapModel.decode, heldout.to_float

    def frame_by_frame(model, crops, identity):
        """The network one frame at a time: its convolutions round the last float32 bits differently per
        batch size, and what is tested here is that evaluate's batching changes nothing else."""
        sizes["decode"].append(len(crops))
        return torch.cat([decode(model, crop[None], identity) for crop in crops])

    def spy_to_float(images):
        sizes["to_float"].append(len(images))
        return to_float(images)

    monkeypatch.setattr(SwapModel, "decode", frame_by_frame)
    monkeypatch.setattr(heldout, "to_float", spy_to_float)
    whole = module.evaluate(checkpoint, cache, tmp_path / "whole", module.EvaluateOptions(device="cpu", batch_size=16))
    # one batch per identity, decoded by each identity, in crop space and at plate scale; crops read once
    assert sizes == {"decode": [2] * 8, "to_float": [2] * 2}
    for calls in sizes.values():
        calls.clear()
    batched = module.evaluate(checkpoint, cache, tmp_path / "batched", module.EvaluateOptions(device="cpu", batch_size=1))
    assert sizes == {"decode": [1] * 16, "to_float": [1] * 4}  # each frame read once
    assert batched == whole and batched["swaps"]["astronaut->hopper"]["temporal_ratio"] is not None
    assert batched["plate_scale"]["swaps"]["astronaut->hopper"]["temporal_ratio"] is not None
    whole_dir, batched_dir = tmp_path / "whole", tmp_path / "batched"
    assert (batched_dir / "metrics.json").read_text() == (whole_dir / "metrics.json").read_text()
    for sheet in module.SHEETS:
        assert np.array_equal(read_image(batched_dir / sheet), read_image(whole_dir / sheet))
    with pytest.raises(ConfigError, match="batch_size=0"):
        module.EvaluateOptions(batch_size=0)


@pytest.mark.slow
def test_a_swap_that_turns_the_head_reads_as_a_pose_error_above_the_self_swap_floor(demo, tmp_path, monkeypatch):
    """A stand-in model whose self-swap gives the crop back and whose swaps give it back turned 10 degrees in the
    image plane, through evaluate's whole path (composite, dlib, metrics, timelines), in crop space and at plate
    scale. Composited inside the hull, the turn reads as 8.2 degrees in crop space and 8.5 at plate scale; the
    self-swap's floor is 0 in crop space. The demo's plates keep their mouths still."""
    import kornia

    import fusion.eval.evaluate as module
    from fusion.eval.heldout import HeldOut
    from fusion.eval.plate_heldout import PlateHeldOut
    from fusion.eval.timeline import TIMELINE_SIZE

    checkpoint, cache = demo
    scored = {}

    def recorder(batches):
        def recorded(held_out, identity, name, size):
            scored["identity"] = identity
            yield from batches(held_out, identity, name, size)
        return recorded

    def turned(model, crops, identity):
        return crops if identity == scored["identity"] else kornia.geometry.transform.rotate(
            crops, torch.full((len(crops),), 10.0))

    monkeypatch.setattr(HeldOut, "batches", recorder(HeldOut.batches))
    monkeypatch.setattr(PlateHeldOut, "batches", recorder(PlateHeldOut.batches))
    monkeypatch.setattr(SwapModel, "decode", turned)
    out = tmp_path / "eval"
    metrics = module.evaluate(checkpoint, cache, out, module.EvaluateOptions(device="cpu", holdout=0.25))
    # (section, the self-swap's pose and mouth floors, a swap's mouth and eye errors): crop space gives the crop
    # back; at plate scale the 32 px crop is warped up into the plate, which moves dlib's landmarks (3.9 degrees)
    for section, pose_floor, mouth_floor, mouth, eyes in ((metrics, 1e-3, 1e-6, 0.03, 0.04),
                                                          (metrics["plate_scale"], 5.5, 0.04, 0.05, 0.08)):
        for swap in section["swaps"].values():
            assert swap["faces_found"] == "5/5" and 7 < swap["pose_error"] < 9.5
            assert swap["mouth_error"] < mouth and swap["eye_error"] < eyes  # the turn barely changes the openings
            assert swap["mouth_correlation"] is None  # the plate's mouth does not move
            assert swap["identity_margin"] < -0.1  # still the template's face: nearer p's centroid than q's
        for identity in section["identities"].values():
            assert identity["pose_error_self_swap"] < pose_floor and identity["mouth_error_self_swap"] < mouth_floor
            assert identity["pose_error_real"] < 7 and identity["mouth_error_real"] < 0.03  # dlib on 32 px: 2.3, 4.0
        summary = section["summary"]
        assert summary["pose_error"] - summary["pose_error_self_swap"] > 3  # the turn stands above the floor
        assert all(np.isfinite(summary[key]) for key in ("mouth_error", "eye_error", "identity_margin",
                                                         "mouth_error_self_swap", "eye_error_self_swap"))
    # what only plate scale shows: a 32 px face is soft in the plate (0.17), whatever it is in its crop (1.0); so
    # is the crop itself composited back, the ceiling a 32 px decoder cannot pass
    assert metrics["summary"]["sharpness_ratio_self_swap"] == pytest.approx(1.0)
    assert metrics["summary"]["sharpness_ratio_ceiling"] == pytest.approx(1.0, abs=0.01)
    assert metrics["plate_scale"]["summary"]["sharpness_ratio_self_swap"] < 0.3
    assert metrics["plate_scale"]["summary"]["sharpness_ratio_ceiling"] < 0.3
    timelines = sorted(path.name for path in (out / "timelines").iterdir())
    assert timelines == ["astronaut_to_hopper.png", "astronaut_to_hopper_plate.png", "hopper_to_astronaut.png",
                         "hopper_to_astronaut_plate.png"]
    assert read_image(out / "timelines" / timelines[0]).shape == (TIMELINE_SIZE[1], TIMELINE_SIZE[0], 3)

    (out / "timelines" / "old_to_new.png").write_bytes(b"a previous evaluation's timeline")
    with pytest.raises(OutputError, match=r"out exists: .*metrics.json.*contact_sheet_plate.png and 1 more; pass"):
        module.evaluate(checkpoint, cache, out, module.EvaluateOptions(device="cpu"))
    module.evaluate(checkpoint, cache, out, module.EvaluateOptions(device="cpu", overwrite=True, plate_scale=False))
    assert sorted(path.name for path in (out / "timelines").iterdir()) == timelines[::2]  # replaced whole
    assert sorted(path.name for path in out.iterdir()) == ["contact_sheet.png", "metrics.json", "timelines"]


@pytest.mark.slow
def test_evaluate_writes_metrics_and_sheet(checkpoint, tmp_path, monkeypatch):
    """Plumbing on an untrained network: every metric present, the sheet sized rows x columns."""
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions
    from fusion.demo.footage import make_demo_footage
    from fusion.eval.evaluate import evaluate

    footage = make_demo_footage(tmp_path / "footage", frames=20)
    settings = CropSettings(resolution=64, landmarks="dlib")  # the checkpoint's crop settings
    prepare(footage, cache_location(tmp_path / "caches", settings), settings, PrepareOptions(contact_sheet=0))
    metrics = evaluate(checkpoint, None, tmp_path / "eval", cache_dir=tmp_path / "caches")  # found by the settings
    assert set(metrics["swaps"]) == {"astronaut->hopper", "hopper->astronaut"}
    assert {"retrieval_accuracy", "landmark_error", "temporal_ratio", "sharpness_ratio", "ssim", "landmark_error_real",
            "landmark_error_self_swap"} <= set(metrics["summary"])
    assert 0 < metrics["summary"]["sharpness_ratio"] < 1  # an untrained decoder's blur of a face is softer than it
    assert metrics["summary"]["landmark_error_real"] < 0.08  # the real frames against their cached landmarks: 0.04
    for swap in metrics["swaps"].values():  # the regions' errors average to the whole (17 + 10 + 9 + 12 + 20 points)
        regions = [swap[f"landmark_error_{r}"] for r in ("jaw", "brows", "nose", "eyes", "mouth")]
        if swap["landmark_error"] is None:  # an untrained decoder's face is rarely found
            assert regions == [None] * 5
        else:
            assert np.average(regions, weights=[17, 10, 9, 12, 20]) == pytest.approx(swap["landmark_error"], rel=1e-6)
    assert all(v["frames"] == 2 for v in metrics["identities"].values())  # 10% of 20 frames held out
    for p, q in (("astronaut", "hopper"), ("hopper", "astronaut")):  # retrieval per identity: the swaps into it
        assert metrics["identities"][q]["retrieval_accuracy"] == metrics["swaps"][f"{p}->{q}"]["retrieval_accuracy"]
    sheet = read_image(tmp_path / "eval" / "contact_sheet.png")
    assert sheet.shape == (3 * 32, 2 * 2 * 32, 3)  # rows: template + one swap per identity; identities side by side
    assert read_image(tmp_path / "eval" / "contact_sheet_plate.png").shape == (3 * 256, 2 * 2 * 256, 3)
    assert {path.name for path in (tmp_path / "eval" / "timelines").iterdir()} == {
        "astronaut_to_hopper.png", "hopper_to_astronaut.png", "astronaut_to_hopper_plate.png",
        "hopper_to_astronaut_plate.png"}
    plates = metrics["plate_scale"]
    assert plates["footage"] == str(footage) and plates["frames_without_face"] == {"astronaut": 0, "hopper": 0}
    assert set(plates["summary"]) == set(metrics["summary"]) and set(plates["swaps"]) == set(metrics["swaps"])
    assert 0 < plates["summary"]["sharpness_ratio"] < 1

    from fusion.eval.wandb_report import COLUMNS, log_evaluation, swap_table

    table = swap_table(metrics["swaps"])
    assert table.columns == COLUMNS and [row[0] for row in table.data] == ["astronaut->hopper", "hopper->astronaut"]
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    folder = Path(log_evaluation(metrics, tmp_path / "eval"))
    run_files = folder.parent
    assert list(run_files.glob("*.wandb")) and "offline-run" in run_files.name
    images = folder / "media" / "images"
    logged = sorted(path.name.rsplit("_", 2)[0] for path in (images / "timelines").glob("*.png"))
    assert logged == ["astronaut_to_hopper", "astronaut_to_hopper_plate", "hopper_to_astronaut",
                      "hopper_to_astronaut_plate"]  # <name>_<step>_<hash>.png
    sheets = sorted(path.name.rsplit("_", 2)[0] for path in images.glob("contact_sheet*.png"))
    assert sheets == ["contact_sheet", "contact_sheet_plate"]


def test_evaluate_py_prints_a_summary_a_person_reads(demo, tmp_path):
    import subprocess
    import sys

    checkpoint, cache = demo
    out = tmp_path / "eval"
    result = subprocess.run([sys.executable, "evaluate.py", f"checkpoint={checkpoint}", f"cache_folder={cache}",
                             f"output={out}", "device=cpu", f"paths.root_dir={tmp_path}"],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()[-8:]
    assert lines[0].startswith("held-out frames of 2 identities: masked SSIM 0.")
    for start, where in ((1, "in crop space: "), (4, "at plate scale (0 held-out frames without a face): ")):
        swaps, regions, follows = lines[start:start + 3]
        assert swaps.startswith(f"{where}swaps: identity retrieval ") and "self-swap floor" in swaps
        assert "sharpness ratio 0." in swaps
        assert regions.startswith("  landmark error by region") and ", eyes " in regions and ", mouth " in regions
        assert follows.startswith("  following the plate (self-swap floor): pose error ")
        assert "mouth correlation" in follows
    assert lines[7] == (f"per identity and per swap: {out / 'metrics.json'}; contact sheets: "
                        f"{out / 'contact_sheet.png'}, {out / 'contact_sheet_plate.png'}; timelines: {out / 'timelines'}")
    assert "hopper: held-out frames: 1/1 (100%) batch" in result.stdout + result.stderr


def test_a_crop_composited_into_itself_comes_back_unchanged(photos):
    """Crops are network-encoded: compositing a face into its own crop must not pass it through the sRGB
    curve as if the crop were a scene-linear (EXR) plate (it did: the face came back up to 0.54 off)."""
    import cv2

    from fusion.eval.crop_swap import composite_crops

    crop = cv2.resize(photos["astronaut"], (128, 128), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(crop / np.float32(255)).permute(2, 0, 1)[None].contiguous()
    angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    polygon = np.stack([64 + 40 * np.cos(angles), 70 + 46 * np.sin(angles)], 1).astype(np.float32)
    out = composite_crops(x, x, [polygon], {"blend": "multiband", "erode": None, "feather": None})
    assert (out - x).abs().max() < 1e-4


def test_the_closing_lines_give_each_summary_score_and_where_the_rest_is(tmp_path):
    from fusion.eval.closing import evaluate_summary

    regions = {"jaw": 0.1012, "brows": 0.05, "nose": 0.0449, "eyes": 0.0301, "mouth": None}
    metrics = {"identities": {"astronaut": {}, "hopper": {}},
               "summary": {"ssim": 0.81234, "retrieval_accuracy": 1.0, "landmark_error": 0.0712,
                           "landmark_error_self_swap": 0.0433, "landmark_error_real": 0.0121, "temporal_ratio": 1.2349,
                           "temporal_ratio_self_swap": 1.01, "sharpness_ratio": 0.6, "sharpness_ratio_self_swap": 0.7,
                           "sharpness_ratio_ceiling": 0.8,
                           "color_error": 3.14159, **{f"landmark_error_{region}": v for region, v in regions.items()},
                           "pose_error": 6.912, "pose_error_self_swap": 2.04, "mouth_error": 0.1104,
                           "mouth_error_self_swap": 0.0301, "eye_error": 0.05, "eye_error_self_swap": 0.02,
                           "mouth_correlation": None, "identity_margin": 0.1234},
               "matte_scores": {"crops": 12, "occluded_learned": 0.9012, "occluded_hull": 0.7,
                                "clean_learned_vs_hull": 0.98765}}
    out = tmp_path / "eval"
    lines = ["held-out frames of 2 identities: masked SSIM 0.812",
             "in crop space: swaps: identity retrieval 1.000, landmark error 0.071 (self-swap floor 0.043, detector on "
             "real frames 0.012), flicker ratio 1.235 (1.010), sharpness ratio 0.600 (0.700; the model's resolution "
             "allows 0.800), color error 3.142 "
             "(CIEDE2000 of the mean face color)",
             "  landmark error by region (the jaw follows the matte's edge, the rest the expression): jaw 0.101, "
             "brows 0.050, nose 0.045, eyes 0.030, mouth n/a",
             "  following the plate (self-swap floor): pose error 6.912 degrees (2.040), mouth opening error 0.110 "
             "(0.030), eye openness error 0.050 (0.020), mouth correlation n/a; identity margin 0.123",
             "learned matte on 12 held-out crops: IoU with occluders 0.901 (the hull alone 0.700), without 0.988 of "
             "the hull",
             f"per identity and per swap: {out / 'metrics.json'}; contact sheets: {out / 'contact_sheet.png'}; "
             f"timelines: {out / 'timelines'}"]
    wandb_run = tmp_path / "wandb" / "run-1"
    assert evaluate_summary(metrics, out, wandb_run) == [*lines, f"W&B run in {wandb_run}"]
    del metrics["matte_scores"]
    assert evaluate_summary(metrics, str(out)) == lines[:4] + lines[5:]  # no learned matte, no W&B
    metrics["plate_scale"] = {"frames_without_face": {"astronaut": 2, "hopper": 1},
                              "summary": {**metrics["summary"], "sharpness_ratio": 0.45}}
    plate = [line.replace("in crop space", "at plate scale (3 held-out frames without a face)")
             .replace("sharpness ratio 0.600", "sharpness ratio 0.450") for line in lines[1:4]]
    assert evaluate_summary(metrics, out) == [*lines[:4], *plate, lines[5].replace(
        "contact_sheet.png;", f"contact_sheet.png, {out / 'contact_sheet_plate.png'};")]
    del metrics["plate_scale"]
    metrics["plate_scale_skipped"] = "no footage named in cache/report.json: ..."
    assert evaluate_summary(metrics, out) == [*lines[:4], "not scored at plate scale: no footage named in "
                                              "cache/report.json: ...", lines[5]]
