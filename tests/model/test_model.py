import copy

import pytest
import torch
import torch.nn.functional as F

from fusion.model.fusion_net import FusionConfig, FusionNet

TINY = dict(width_multiplier=1 / 64)  # widths 8 up to 32 px, then 4, 2, 1


def net_of(identities=3, resolution=16, growth=(), **kw):
    return FusionNet.build(FusionConfig(identities=identities, resolution=resolution, **{**TINY, **kw}), growth)


def images(n, size, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def named_snapshot(net):
    return {name: p.detach().clone() for name, p in net.named_parameters()}


@pytest.mark.parametrize("resolution", [4, 16, 32])
def test_shapes_through_growth(resolution):
    net = net_of(resolution=resolution, shared_decoder_levels=0 if resolution == 4 else 2)
    size = resolution
    for _ in range(3):
        assert net.input_resolution == net.output_resolution == size
        assert net(images(2, size), torch.tensor([0, 2])).shape == (2, 3, size, size)
        with pytest.raises(ValueError, match=f"images must have shape \\(B, 3, {size}, {size}\\)"):
            net(images(2, 2 * size), torch.tensor([0, 2]))
        net.grow()
        size *= 2
    assert net.depth == 3


def test_decoder_only_growth_doubles_output_only():
    net = net_of(growth=["full"])
    net.grow("decoder_only")
    assert (net.input_resolution, net.output_resolution) == (32, 64)
    assert net(images(2, 32), torch.tensor([1, 1])).shape == (2, 3, 64, 64)
    net.grow()
    assert (net.input_resolution, net.output_resolution) == (64, 128)
    assert net.growth == ["full", "decoder_only", "full"]


def test_latent_and_widths():
    net = FusionNet(FusionConfig(identities=1, resolution=64, width_multiplier=0.125, latent_channels=24))
    assert net.encode(images(2, 64)).shape == (2, 24, 1, 1)
    assert net.from_rgb["4"].conv.out_channels == 32
    assert net.encoder[4].conv2.out_channels == 64
    assert [d.conv2.out_channels for d in net.decoders[0].levels] == [64, 64, 32]


def test_only_present_identities_get_gradients():
    net = net_of(identities=4, growth=["full"])
    net(images(3, 32), torch.tensor([3, 0, 3])).square().mean().backward()
    for p in net.decoders[1].parameters():
        assert p.grad is None
    for p in net.decoders[2].parameters():
        assert p.grad is None
    present = [net.decoders[0], net.decoders[3], net.shared, net.encoder]
    for part in present:
        for name, p in part.named_parameters():
            if "to_rgb.2" not in name:  # the previous level's toRGB serves only the fade-in
                assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_mixed_batch_matches_rows_decoded_alone():
    net = net_of(identities=3)
    x, identity = images(5, 16), torch.tensor([2, 0, 2, 1, 0])
    mixed = net(x, identity)
    for row in range(5):
        alone = net(x[row : row + 1], identity[row : row + 1])
        torch.testing.assert_close(mixed[row : row + 1], alone, rtol=1e-5, atol=1e-6)
    grouped = torch.argsort(identity, stable=True)
    torch.testing.assert_close(net(x[grouped], identity[grouped]), mixed[grouped], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["full", "decoder_only"])
def test_phase_a_trains_only_the_newest_level(kind):
    net = net_of(identities=2, growth=["full"])
    kept = list(net.parameters())  # keeps pruned RGB layers alive, so their ids are not reused
    before = set(map(id, kept))
    net.grow(kind)
    newest, older = net.newest_parameters(), net.older_parameters()
    assert {id(p) for p in newest} == set(map(id, net.parameters())) - before
    assert {id(p) for p in older} == before & set(map(id, net.parameters()))
    assert any(p is net.encoder[-1].conv1.weight for p in newest) == (kind == "full")

    old_values = {id(p): p.detach().clone() for p in older}
    new_values = {id(p): p.detach().clone() for p in newest}
    optimizer = torch.optim.Adam(newest, lr=1e-2)
    x = images(2, net.input_resolution)
    F.l1_loss(net(x, torch.tensor([0, 1])), torch.zeros(2, 3, net.output_resolution, net.output_resolution)).backward()
    optimizer.step()
    assert all(torch.equal(p, old_values[id(p)]) for p in older)
    changed = [not torch.equal(p, new_values[id(p)]) for p in newest if p.ndim == 4]
    assert all(changed)


def test_ungrown_network_is_all_newest():
    net = net_of()
    assert len(net.newest_parameters()) == len(list(net.parameters()))
    assert net.older_parameters() == []


def test_same_seed_same_growth_gives_identical_weights():
    torch.manual_seed(1)
    a = net_of(seed=7)
    a.grow()
    torch.rand(1000)
    a.grow("decoder_only")
    torch.manual_seed(2)
    b = net_of(seed=7, growth=["full", "decoder_only"])
    assert list(a.state_dict()) == list(b.state_dict())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    c = net_of(seed=8, growth=["full", "decoder_only"])
    assert not torch.equal(a.decoders[0].levels[-1].conv1.weight, c.decoders[0].levels[-1].conv1.weight)


def test_growth_does_not_touch_global_rng():
    net = net_of()
    state = torch.random.get_rng_state()
    net.grow()
    assert torch.equal(torch.random.get_rng_state(), state)


def test_build_and_load_state_dict_round_trip():
    net = net_of(identities=2, growth=["full"])
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    x, identity = images(2, 32), torch.tensor([1, 0])
    net(x, identity).abs().mean().backward()
    optimizer.step()
    net.grow("decoder_only")
    saved = {"growth": list(net.growth), "state": copy.deepcopy(net.state_dict())}

    loaded = FusionNet.build(net.config, saved["growth"])
    loaded.load_state_dict(saved["state"])
    assert torch.equal(loaded(x, identity), net(x, identity))
    with pytest.raises(RuntimeError, match="Missing key"):
        FusionNet.build(net.config, ["full"]).load_state_dict(saved["state"])


def test_fade_in_blends_with_the_old_path():
    net = net_of(identities=2, growth=["full"])
    old = copy.deepcopy(net)
    net.grow()
    x, identity = images(2, 64), torch.tensor([0, 1])
    net.alpha = 0.0
    expected = F.interpolate(old(F.avg_pool2d(x, 2), identity), scale_factor=2, mode="nearest")
    torch.testing.assert_close(net(x, identity), expected)
    net.alpha = 0.3
    net.grow("decoder_only")
    assert net.alpha == 1.0
    x = images(2, 64)
    full = net(x, identity)
    net.alpha = 0.0
    old_path = net(x, identity)
    net.alpha = 0.25  # a decoder-only growth blends images, so the output is linear in alpha
    torch.testing.assert_close(net(x, identity), 0.75 * old_path + 0.25 * full)


def test_channels_last_and_bf16_autocast():
    net = net_of(identities=2, growth=["full"], width_multiplier=1 / 16)
    x, identity = images(4, 32), torch.tensor([1, 0, 0, 1])
    reference = net(x, identity)
    net = net.to(memory_format=torch.channels_last)
    out = net(x.to(memory_format=torch.channels_last), identity)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        low = net(x.to(memory_format=torch.channels_last), identity)
        F.l1_loss(low, reference).backward()
    assert low.dtype == torch.bfloat16
    assert (low.float() - reference).abs().mean() < 0.05 * reference.abs().mean()
    assert all(p.grad.dtype == torch.float32 for p in net.decoders[0].parameters() if p.grad is not None)


def test_new_levels_follow_dtype_and_memory_format():
    net = net_of().double().to(memory_format=torch.channels_last)
    net.grow()
    assert {p.dtype for p in net.parameters()} == {torch.float64}
    assert net.encoder[-1].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.encoder[-1].conv1.weight.is_contiguous()
    assert not net_of(growth=["full"]).encoder[-1].conv1.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (torch.tensor([0, 3]), "identity index 3 out of range: the network has 3 identities"),
        (torch.tensor([-1, 0]), "identity index -1 out of range"),
        (torch.tensor([0.0, 1.0]), "identity must be an integer tensor of shape \\(2,\\)"),
        (torch.tensor([0]), "identity must be an integer tensor of shape \\(2,\\)"),
    ],
)
def test_bad_identity_rejected(identity, message):
    with pytest.raises(ValueError, match=message):
        net_of()(images(2, 16), identity)


def test_bad_images_rejected():
    net = net_of()
    with pytest.raises(ValueError, match="images must have shape \\(B, 3, 16, 16\\), got \\(2, 1, 16, 16\\)"):
        net(torch.zeros(2, 1, 16, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="empty batch"):
        net(torch.zeros(0, 3, 16, 16), torch.zeros(0, dtype=torch.long))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(identities=0), "identities must be >= 1"),
        (dict(identities=1, resolution=48), "resolution must be 4 \\* 2\\*\\*k px"),
        (dict(identities=1, resolution=8), "shared_decoder_levels must be in \\[0, 1\\]"),
        (dict(identities=1, downsample="bilinear"), "downsample=bilinear: choose one of avg, max"),
        (dict(identities=1, upsample="bicubic"), "upsample=bicubic: choose one of nearest, bilinear"),
        (dict(identities=1, width_multiplier=0), "width multiplier must be > 0"),
    ],
)
def test_bad_config_rejected(kw, message):
    with pytest.raises(ValueError, match=message):
        FusionNet(FusionConfig(**kw))


def test_bad_alpha_rejected():
    net = net_of()
    with pytest.raises(ValueError, match="needs a grown network"):
        net.alpha = 0.5
    net.grow()
    with pytest.raises(ValueError, match="alpha must be in \\[0, 1\\]"):
        net.alpha = 1.5


def test_max_pool_and_bilinear_options():
    net = net_of(downsample="max", upsample="bilinear", growth=["full", "decoder_only"])
    assert net(images(1, 32), torch.tensor([0])).shape == (1, 3, 64, 64)


def test_printing_the_network_shows_resolutions_and_widths():
    net = net_of(identities=2, growth=["full", "decoder_only"], width_multiplier=1 / 16)
    text = str(net)
    assert "2 identities, 32 -> 64 px, growth ['full', 'decoder_only']" in text
    assert "EncoderLevel(\n      32 -> 16 px, 32 -> 32 channels, avg pool" in text
    assert "DecoderLevel(\n          32 -> 64 px" in text and "ToRGB(\n" in text


def test_growth_kinds_are_named_and_checked():
    net = net_of()
    with pytest.raises(ValueError, match="growth kind=half: choose one of full, decoder_only"):
        net.grow("half")
    assert net.growth == []
