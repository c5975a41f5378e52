"""The checkpoint format: written and read in one module, older files migrated."""

import torch

from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.checkpoint import fusion_section, load_network, read_checkpoint


def test_a_checkpoint_with_growth_flags_loads_as_kinds(tmp_path):
    """Checkpoints written before growth named its kinds stored one decoder_only flag per growth."""
    net = FusionNet.build(FusionConfig(identities=2, resolution=16, width_multiplier=1 / 32), ["full", "decoder_only"])
    section = fusion_section(net, ["a", "b"], 3, {"resolution": 64})
    assert section["growth"] == ["full", "decoder_only"]
    section["growth"] = [False, True]  # the old format
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "fusion": section},
               tmp_path / "old.ckpt")
    saved = read_checkpoint(tmp_path / "old.ckpt")
    assert saved["fusion"]["growth"] == ["full", "decoder_only"]
    loaded = load_network(saved)
    x, identity = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])
    assert torch.equal(loaded(x, identity), net(x, identity)) and loaded.output_resolution == 64
