"""The bottom levels' whole-map conv and point deconv are their layers' own functions, as matrix products."""

import pytest
import torch
import torch.nn.functional as F

from fusion.model.levels import DecoderBottom, EncoderBottom


@pytest.mark.parametrize("channels_last", [False, True])
def test_bottoms_equal_their_convolutions_forward_and_backward(channels_last):
    generator = torch.Generator().manual_seed(0)
    encoder, decoder = EncoderBottom(16, 32, generator), DecoderBottom(32, 16, generator)
    x = torch.randn(3, 16, 4, 4, generator=generator)
    if channels_last:
        encoder, decoder = (m.to(memory_format=torch.channels_last) for m in (encoder, decoder))
        x = x.contiguous(memory_format=torch.channels_last)

    def as_convolutions(x):
        latent = encoder.to_latent(F.leaky_relu(encoder.conv(x), 0.2))
        return F.leaky_relu(decoder.conv(F.leaky_relu(decoder.from_latent(latent), 0.2)), 0.2)

    results = []
    for run in (lambda x: decoder(encoder(x)), as_convolutions):
        for module in (encoder, decoder):
            module.zero_grad()
        out = run(x)
        out.square().sum().backward()
        results.append([out, *(p.grad.clone() for m in (encoder, decoder) for p in m.parameters())])
    assert results[0][0].shape == (3, 16, 4, 4)
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-3)
