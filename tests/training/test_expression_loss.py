"""The expression loss: what it reads of a face, the landmark reader it reads with, and the swap it adds to a
training step."""

import numpy as np
import pytest
import torch

from fusion.model.landmark_net import LandmarkNet
from fusion.training.expression_loss import ExpressionLoss, performance_terms


def test_the_terms_read_the_mouth_and_eyes_as_the_evaluation_does_and_the_nose_against_the_eyes(photos, dlib_backend):
    from fusion.faces.landmarks import jittered_landmarks
    from fusion.metrics.performance import measure_performance

    image = photos["astronaut"]
    points = jittered_landmarks(dlib_backend, image, dlib_backend.detect(image)[0], 4).astype(np.float64)
    opened = points.copy()
    opened[[65, 66, 67], 1] += 12  # the lower inner lip 12 px down
    turned = points.copy()
    turned[30, 0] += 9  # the nose tip 9 px to the right
    landmarks = np.stack([points, opened, turned])
    terms = performance_terms(torch.from_numpy(landmarks).float()).numpy()
    measured = measure_performance(landmarks)
    np.testing.assert_allclose(terms[:, 0], measured.mouth, atol=1e-4)
    np.testing.assert_allclose(terms[:, 1], measured.eyes, atol=1e-4)
    assert terms[1, 0] - terms[0, 0] > 0.05  # the mouth opens by 4 / width
    spread = np.linalg.norm(points[45] - points[36])
    assert terms[2, 2] - terms[0, 2] == pytest.approx(9 / spread, rel=1e-4) and terms[2, 3] == terms[0, 3]


def test_the_loss_is_zero_for_the_frame_itself_and_grows_with_a_changed_face():
    torch.manual_seed(0)
    loss = ExpressionLoss(LandmarkNet(resolution=32, width=8))
    frames = torch.rand(3, 3, 64, 64)
    assert float(loss(frames, frames)) == 0.0
    swaps = frames.clone().requires_grad_(True)
    value = loss(swaps.flip(-1), frames)
    value.backward()
    assert value.item() > 0 and swaps.grad.abs().sum() > 0  # differentiable through the frozen reader
    assert all(not p.requires_grad for p in loss.net.parameters())


def test_the_term_swaps_each_row_through_another_identity_and_trains_that_decoder():
    from fusion.training.module import FusionModule

    module = FusionModule(["a", "b", "c"], {"resolution": 16, "width_multiplier": 1 / 32}, expression_weight=2.0,
                          expression_min_resolution=16)
    identity = torch.tensor([0, 0, 1, 1, 2, 2] * 20)
    others = module.other_identities(identity)
    assert (others != identity).all() and set(zip(identity.tolist(), others.tolist())) == {
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)}
    torch.manual_seed(0)
    module.expression = ExpressionLoss(LandmarkNet(resolution=16, width=4))
    batch = {"source": torch.rand(4, 3, 16, 16), "template": torch.rand(4, 3, 16, 16), "mask": torch.ones(4, 1, 16, 16),
             "identity": torch.zeros(4, dtype=torch.long)}
    terms = module._step(batch)
    assert float(terms["loss"]) == pytest.approx(float(terms["ssim"] * 0.84 + terms["l1"] * 0.16
                                                       + 2.0 * terms["expression"]), rel=1e-5)
    terms["expression"].backward()
    grads = {i: sum(float(p.grad.abs().sum()) for p in module.net.decoders[i].parameters() if p.grad is not None)
             for i in range(3)}
    assert grads[0] == 0 and grads[1] + grads[2] > 0  # only the other identities' decoders draw the swaps
    off = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32})
    assert "expression" not in off._step({**batch, "identity": torch.zeros(4, dtype=torch.long)})
    with pytest.raises(ValueError, match="model.expression_weight=-1"):
        FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32}, expression_weight=-1)


@pytest.mark.slow
def test_the_reader_learns_the_caches_landmarks_and_a_run_reuses_it(demo_cache, tmp_path, monkeypatch):
    """Fitted on the demo cache's train split, the reader's error on its held-out crops falls well below an
    untrained reader's; saved in the run folder, a resumed run loads it instead of fitting again."""
    import fusion.training.landmark_fit as fit
    from fusion.data.cache import CropSettings, cache_location
    from fusion.data.pack import PackSpec, build_pack

    cache = cache_location(demo_cache / "data" / "cache", CropSettings(resolution=64, landmarks="dlib"))
    identities = sorted(p.name for p in cache.iterdir() if (p / "index.json").is_file())
    net = fit.landmark_net(cache, identities, 0.2, tmp_path, steps=150)
    held_out = build_pack(cache, identities, PackSpec(fit.RESOLUTION, 10**6, 0, "val", 0.2))
    torch.manual_seed(0)
    untrained = fit.landmark_error(LandmarkNet(fit.RESOLUTION), held_out)
    learned = fit.landmark_error(net, held_out)
    assert learned < 0.1 * untrained  # 300 steps: 0.008 against 0.83 of the eyes' distance
    monkeypatch.setattr(fit, "fit_landmark_net", lambda *args, **kwargs: pytest.fail("fitted again"))
    again = fit.landmark_net(cache, identities, 0.2, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), net.state_dict().values()))
