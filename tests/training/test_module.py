"""FusionModule: the weight average through growth, into a swap, checkpoints from before it, the blend rule."""

import pytest
import torch


def test_weight_average_follows_the_ramped_decay_and_grows_with_the_net(tmp_path, compose, fast):
    from fusion.swap.loader import load_swap_model
    from fusion.training.callback import enter_phase
    from omegaconf import OmegaConf

    from fusion.training.module import FusionModule
    from fusion.training.schedule import phases

    module = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32}, ema_decay=0.9)
    plan = phases(OmegaConf.to_object(compose("train", fast, root=tmp_path).curriculum))
    enter_phase(module, plan[1])  # stage1-A: grown to 32 px
    assert module.net_ema.state_dict().keys() == module.net.state_dict().keys()
    for ema, raw in zip(module.net_ema.newest_parameters(), module.net.newest_parameters()):
        assert torch.equal(ema, raw) and not ema.requires_grad
    with torch.no_grad():
        for ema, raw in zip(module.net_ema.parameters(), module.net.parameters()):
            ema.fill_(0.0), raw.fill_(1.0)
    expected = 0.0
    for step in range(1, 31):
        module._update_average()
        decay = min(0.9, (1 + step) / (10 + step))  # 0.18, 0.25, ... then 0.9 from step 80 on
        expected = decay * expected + (1 - decay)
    weight = next(module.net_ema.parameters())
    torch.testing.assert_close(weight, torch.full_like(weight, expected))
    assert 0.99 < expected < 1  # the ramp let the average reach the trained weights within a short phase
    module.crop = {"resolution": 64, "landmarks": "dlib"}
    saved = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(saved)
    torch.save(saved, tmp_path / "ema.ckpt")
    loaded = next(load_swap_model(tmp_path / "ema.ckpt").net.parameters())
    torch.testing.assert_close(loaded, weight)  # a swap gets the average, not the raw weights (all 1)


def test_checkpoints_from_before_the_average_still_load():
    from fusion.training.module import FusionModule

    old = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32}, ema_decay=None)
    state = {k: v for k, v in old.state_dict().items() if k != "ema_steps"}
    assert not any(k.startswith("net_ema.") for k in state)
    new = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32, "seed": 1})
    new.load_state_dict(new.with_average(state))
    for ema, raw in zip(new.net_ema.parameters(), old.net.parameters()):
        assert torch.equal(ema, raw)
    old.load_state_dict(old.with_average(new.state_dict()))  # and an average is dropped where none is kept


def test_the_blend_rule_picks_the_crop_blend_or_the_swaps_composite():
    from fusion.blend import multiband_blend
    from fusion.blend.face_composite import composite_faces
    from fusion.training.module import FusionModule

    generator = torch.Generator().manual_seed(0)
    face, template = torch.rand(2, 2, 3, 64, 64, generator=generator)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 10:58, 14:50] = 1
    net = {"resolution": 16, "width_multiplier": 1 / 32}
    crop = FusionModule(["a", "b"], net, blend={"match_contrast": False})
    composite = FusionModule(["a", "b"], net, blend={"rule": "composite", "match_contrast": False})
    assert torch.equal(crop.blend(face, template, mask), multiband_blend(face, template, mask, match_contrast=False))
    assert torch.equal(composite.blend(face, template, mask), composite_faces(face, template, mask))
    from fusion.errors import ConfigError

    with pytest.raises(ConfigError, match="model.blend.rule"):
        FusionModule(["a", "b"], net, blend={"rule": "swap"})
