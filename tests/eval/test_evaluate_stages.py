"""evaluate's stages one at a time: score a batch (one accumulator per identity and per swap), keep the contact
sheet's frames, turn the scores into metrics and summarise them."""

import numpy as np
import pytest
import torch

from fusion.eval.analyse import Analysis
from fusion.eval.crop_swap import CropSwapper, composite_crops
from fusion.eval.heldout import HeldOutBatch
from fusion.eval.scores import SHEET_FRAMES, IdentityScores, PairScores, SheetBlock
from fusion.eval.swapped import Swapped
from fusion.eval.summary import performance, score_metrics, summarise, swap_metrics
from fusion.metrics.expression import landmark_error

RES = 16


def held_out_batch(start: int, size: int, take: str = "take1") -> HeldOutBatch:
    """`size` random crops, full masks, frames `start`... of one take, landmarks `template(start + k)`."""
    crops = torch.rand(size, 3, RES, RES, generator=torch.Generator().manual_seed(start))
    square = np.array([[2, 2], [13, 2], [13, 13], [2, 13]], np.float32)
    return HeldOutBatch(crops, torch.ones(size, 1, RES, RES), [square] * size,
                        [(take, start + k) for k in range(size)], np.stack([template(start + k) for k in range(size)]))


def template(offset: float = 0.0) -> np.ndarray:
    """68 landmarks with outer eye corners 10 px apart (the inter-ocular distance), moved by `offset` px."""
    points = np.zeros((68, 2))
    points[:, 0] = np.arange(68) % 10
    points[36], points[45] = [0, 0], [10, 0]
    return points + offset


def descriptor(value: float) -> np.ndarray:
    return np.full(128, value)


def test_a_pair_keeps_every_frames_scores_and_flickers_only_across_following_frames():
    pair = PairScores()
    for batch in (held_out_batch(0, 3), held_out_batch(3, 2, "take2")):
        size = len(batch.crops)
        pair.add(Swapped(batch.crops * 0.9, [0.5] * size, [2.0] * size), batch, [None] * size)
    assert len(pair.analyses) == 5 and pair.sharpness == [0.5] * 5 and pair.color_error == [2.0] * 5
    assert pair.flicker.pairs == 3  # 0-1, 1-2 in take1 and 3-4 in take2; not 2-3 across the takes
    assert pair.flicker.value() == pytest.approx(0.9)  # the darkened crops change 0.9 times as much


def test_a_swap_result_has_a_sharpness_and_a_color_error_per_view():
    with pytest.raises(ValueError, match="2 swapped views with 1 sharpness ratios and 2 color errors"):
        Swapped(torch.zeros(2, 3, RES, RES), [1.0], [0.0, 0.0])


def test_the_sheet_keeps_the_first_frames_of_each_row_as_copies():
    sheet, batches = SheetBlock(2), [torch.rand(4, 3, RES, RES) for _ in range(2)]
    for batch in batches:
        sheet.add([batch, batch * 0.5, batch * 0.25])
    assert [len(row) for row in sheet.rows] == [SHEET_FRAMES] * 3
    assert torch.equal(sheet.rows[0][5], batches[1][1]) and sheet.rows[0][0].data_ptr() != batches[0].data_ptr()
    assert sheet.image().shape == (3, 3 * RES, SHEET_FRAMES * RES)
    tiled = SheetBlock(1, RES // 2)  # plate-scale views shrunk to the sheet's tiles: each 2x2 block's mean
    tiled.add([batches[0], batches[0]])
    assert tiled.image().shape == (3, 2 * RES // 2, 4 * RES // 2)
    assert tiled.rows[0][0][:, 0, 0].tolist() == pytest.approx(batches[0][0, :, :2, :2].mean((1, 2)).tolist())


class ScaleSwapper:
    """A CropSwapper whose identity j's decode is the crop times (j + 1) / 4, composited as is."""

    def __init__(self):
        self.decoded: list[int] = []

    def decode(self, batch, identity):
        self.decoded.append(identity)
        return batch.crops * (identity + 1) / 4

    def visible(self, batch):
        return None

    def composite(self, faces, batch, visible):
        return Swapped(faces, [1.0] * len(faces), [0.0] * len(faces))


def test_an_identity_decodes_each_batch_once_per_identity_and_scores_each_swap_apart():
    swapper, seen = ScaleSwapper(), []

    def analyse(crops, size):
        seen.append(crops)
        assert size == RES  # landmarks in the crops' pixels
        return [Analysis(descriptor(float(crops.mean())), template())] * len(crops)

    scores = IdentityScores(1, 3)
    for batch in (held_out_batch(0, 2), held_out_batch(2, 1)):
        scores.add(batch, swapper, analyse)
    assert swapper.decoded == [1, 0, 2] * 2  # its own decode first, reused for the self-swap
    assert sorted(scores.pairs) == [0, 2] and len(scores.real) == len(scores.self_swap) == 3
    assert np.array_equal(scores.template_points(), np.stack([template(k) for k in range(3)]))
    assert scores.self_pair.sharpness == [1.0] * 3 and scores.self_pair.flicker.pairs == 2
    assert all(len(pair.analyses) == 3 for pair in scores.pairs.values())
    ssim, psnr = scores.ssim_psnr()  # its own decode is the crop at half brightness
    assert 0 < ssim < 1 and 5 < psnr < 15
    assert len(seen) == 2 * 4  # per batch: the real crops, then the swap by each of the three identities
    assert [len(row) for row in scores.sheet.rows] == [3] * 4


def test_a_swap_scores_identity_against_the_centroids_and_counts_a_missed_face_as_a_miss():
    pair = PairScores([Analysis(descriptor(0.9), template(1.0)), None, Analysis(descriptor(0.1), template())],
                      [0.5, 0.75, 1.0], [2.0, 4.0, 6.0])
    centres = np.stack([descriptor(0.0), descriptor(1.0)])
    metrics = swap_metrics(pair, np.stack([template()] * 3), centres, 0, 1, performance([None] * 3))
    assert metrics["faces_found"] == "2/3"
    assert metrics["retrieval_accuracy"] == pytest.approx(1 / 3)  # one of the two found is q's; the third missed
    assert metrics["distance_to_source"] == pytest.approx((0.1 + 0.9) * np.sqrt(128) / 2)
    assert metrics["distance_to_template"] == pytest.approx((0.9 + 0.1) * np.sqrt(128) / 2)
    moved = landmark_error(template(1.0), template())
    assert metrics["landmark_error"] == pytest.approx(moved / 2) and moved == pytest.approx(np.sqrt(2) / 10)
    assert metrics["landmark_error_jaw"] == pytest.approx(moved / 2)
    assert (metrics["sharpness_ratio"], metrics["color_error"], metrics["temporal_ratio"]) == (0.75, 4.0, None)
    assert metrics["identity_margin"] == pytest.approx(0, abs=1e-6)  # one 0.8 sqrt(128) nearer q, one as much nearer p
    assert metrics["pose_error"] is None  # the plate's face was never found
    missed = swap_metrics(PairScores([None], [1.0], [1.0]), template()[None], centres, 0, 1, performance([None]))
    assert (missed["retrieval_accuracy"], missed["identity_margin"]) == (0, None)


def test_the_summary_averages_swaps_then_identities_skipping_what_was_not_measured():
    swapper = ScaleSwapper()
    analyses = {0: descriptor(0.0), 1: descriptor(1.0)}
    scores = [IdentityScores(i, 2) for i in range(2)]
    for i, identity in enumerate(scores):
        identity.add(held_out_batch(i, 2), swapper,  # each frame's face where its template's landmarks are
                     lambda crops, size, i=i: [Analysis(analyses[i], template(i + k)) for k in range(2)])
    identities, swaps = score_metrics(["a", "b"], scores)
    assert list(swaps) == ["a->b", "b->a"] and list(identities) == ["a", "b"]
    follows = ["pose_error", "mouth_error", "eye_error", "mouth_correlation"]
    assert list(identities["a"]) == ["frames", "ssim", "psnr", "landmark_error_real", "landmark_error_self_swap",
                                     *(f"{key}_real" for key in follows), *(f"{key}_self_swap" for key in follows),
                                     "sharpness_ratio_self_swap", "sharpness_ratio_ceiling", "temporal_ratio_self_swap",
                                     "retrieval_accuracy"]
    assert identities["a"]["sharpness_ratio_self_swap"] == 1.0 and identities["a"]["temporal_ratio_self_swap"] > 0
    assert identities["b"]["retrieval_accuracy"] == swaps["a->b"]["retrieval_accuracy"] == 0.0  # a's face stays a's
    summary = summarise(identities, swaps)
    assert list(summary)[-14:] == ["ssim", "landmark_error_real", "landmark_error_self_swap",
                                   *(f"{key}_real" for key in follows), *(f"{key}_self_swap" for key in follows),
                                   "sharpness_ratio_self_swap", "sharpness_ratio_ceiling", "temporal_ratio_self_swap"]
    assert summary["landmark_error"] == 0.0 and summary["temporal_ratio"] == pytest.approx(
        np.mean([swaps["a->b"]["temporal_ratio"], swaps["b->a"]["temporal_ratio"]]))
    assert summary["ssim"] == pytest.approx((identities["a"]["ssim"] + identities["b"]["ssim"]) / 2)


def test_the_crop_swap_without_a_color_step_composites_the_decoded_faces():
    batch, options = held_out_batch(0, 2), {"blend": "alpha", "erode": 0.0, "feather": 1.0, "quality": "none"}
    faces = torch.zeros_like(batch.crops)
    plain = CropSwapper(None, None, None, options)
    assert plain.visible(batch) is None
    result = plain.composite(faces, batch, None)
    swapped = result.views
    assert torch.equal(swapped, composite_crops(faces, batch.crops, batch.polygons, options))
    assert len(result.sharpness) == 2 and all(error > 20 for error in result.color_error)  # black into mid-grey
    outside = (swapped[:, :, 0, 0] - batch.crops[:, :, 0, 0]).abs().max()  # the crop's, through 16-bit pixels
    assert swapped[:, :, 7, 7].abs().max() < 0.01 and outside < 1e-4
    doubled = CropSwapper(None, lambda face, plate, mask: face + 0.5, None, options).composite(faces, batch, None).views
    assert (doubled[:, :, 7, 7] - 0.5).abs().max() < 0.01


def opened(points: np.ndarray, gap: float, turn: float = 0.0) -> np.ndarray:
    """`points` with the lower inner lip moved `gap` px down, then turned `turn` degrees in the image plane."""
    points = points.copy()
    points[[65, 66, 67], 1] += gap
    angle = np.radians(turn)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = points.mean(0)
    return (points - centre) @ rotation.T + centre


def test_a_swap_follows_its_plate_frame_by_frame_against_the_self_swap_floor(photos, dlib_backend):
    """a's plate opens its mouth 0-12 px; the self-swap copies it (the floor: 0), a -> b turns the head 3 degrees
    and opens the mouth half as far (in step), missing one face; b's plate keeps its mouth still."""
    from fusion.eval.timeline import TIMELINE_SIZE, swap_timelines
    from fusion.faces.landmarks import jittered_landmarks

    boxes = dlib_backend.detect(photos["astronaut"])
    base = jittered_landmarks(dlib_backend, photos["astronaut"], boxes[0], 4)
    gaps = [0.0, 4.0, 8.0, 12.0, 0.0, 6.0]
    plate = [Analysis(descriptor(0.0), opened(base, gap)) for gap in gaps]
    swap = [Analysis(descriptor(1.0), opened(base, gap / 2, turn=3.0)) for gap in gaps]
    swap[2] = None
    still = [Analysis(descriptor(1.0), base)] * 6
    scores = [IdentityScores(i, 2) for i in range(2)]
    for identity, real, swapped, into in ((scores[0], plate, swap, still), (scores[1], still, plate, still)):
        identity.reconstruction, identity.positions = [torch.ones(2, 6)], [("t1", k) for k in range(6)]
        identity.real, identity.self_pair.analyses, identity.points = real, real, [np.stack([base] * 6)]
        pair = identity.pairs[1 - identity.index]
        pair.analyses, pair.sharpness, pair.color_error = swapped, [1.0] * 6, [0.0] * 6
    identities, swaps = score_metrics(["a", "b"], scores)
    width = np.linalg.norm(base[48] - base[54])
    a_to_b = swaps["a->b"]
    assert a_to_b["pose_error"] == pytest.approx(3.0, abs=0.05)
    assert a_to_b["mouth_error"] == pytest.approx(np.mean([0, 2, 6, 0, 3]) / width, rel=0.02)
    assert a_to_b["mouth_correlation"] == pytest.approx(1.0, abs=1e-3) and a_to_b["eye_error"] < 0.01
    assert a_to_b["identity_margin"] == pytest.approx(np.sqrt(128))  # on b's centroid, sqrt(128) from a's
    assert swaps["b->a"]["mouth_correlation"] is None  # b's plate never opens its mouth
    assert swaps["b->a"]["mouth_error"] == pytest.approx(np.mean(gaps) / width, rel=0.02)
    assert identities["a"]["mouth_error_real"] == pytest.approx(np.mean(gaps) / width, rel=0.02)  # vs the cache's
    assert identities["b"]["pose_error_real"] == pytest.approx(0, abs=1e-3)
    for name in ("a", "b"):
        assert identities[name]["pose_error_self_swap"] == pytest.approx(0, abs=1e-3)
        assert identities[name]["mouth_error_self_swap"] == 0
    assert identities["a"]["mouth_correlation_self_swap"] == pytest.approx(1.0)
    summary = summarise(identities, swaps)
    assert summary["pose_error"] == pytest.approx(a_to_b["pose_error"] / 2, abs=1e-3)  # b -> a keeps the pose
    assert summary["mouth_correlation"] == a_to_b["mouth_correlation"]  # the only plate whose mouth moves
    assert summary["pose_error_self_swap"] == pytest.approx(0, abs=1e-3)

    timelines = swap_timelines(["a", "b"], scores)
    assert list(timelines) == ["a_to_b", "b_to_a"]
    assert all(image.shape == (TIMELINE_SIZE[1], TIMELINE_SIZE[0], 3) for image in timelines.values())
    assert timelines["a_to_b"].std() > 10  # drawn, not blank
