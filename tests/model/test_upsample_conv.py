import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from fusion.model.upsample_conv import FOLD_FROM, UpsampleConv3x3, transposed_kernel, upsample_conv3x3


def reference(x, weight, bias):
    return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("size", [(1, 1), (4, 4), (5, 7)])
def test_equals_upsample_then_conv_forward_and_backward(channels_last, size):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, *size, generator=generator)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(5, 6, 3, 3, generator=generator)
    bias = torch.randn(5, generator=generator)
    grad = torch.randn(3, 5, 2 * size[0], 2 * size[1], generator=generator)
    results = []
    for op in (upsample_conv3x3, reference):
        inputs = [t.clone().requires_grad_() for t in (x, weight, bias)]
        out = op(*inputs)
        out.backward(grad)
        results.append((out, *(t.grad for t in inputs)))
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_transposed_kernel_keeps_every_tap_once_per_output_phase():
    weight = torch.randn(2, 3, 3, 3)
    kernel = transposed_kernel(weight)
    assert kernel.shape == (3, 2, 4, 4)
    # Each output phase takes every other tap per axis: its four taps sum to the 3x3 kernel's nine.
    for row in (0, 1):
        for col in (0, 1):
            torch.testing.assert_close(kernel[..., row::2, col::2].sum((-1, -2)), weight.sum((-1, -2)).T)
    with pytest.raises(ValueError, match="weight"):
        transposed_kernel(torch.randn(2, 3, 5, 5))


def test_layer_folds_from_its_threshold_up_at_fewer_multiply_adds():
    layer = UpsampleConv3x3(8, 8)
    assert set(layer.state_dict()) == {"weight", "bias"} and layer.weight.shape == (8, 8, 3, 3)
    for size in (FOLD_FROM // 2, FOLD_FROM):
        x = torch.randn(1, 8, size, size)
        with FlopCounterMode(display=False) as ours:
            out = layer(x)
        with FlopCounterMode(display=False) as plain:
            expected = reference(x, layer.weight, layer.bias)
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
        ratio = ours.get_total_flops() / plain.get_total_flops()
        # Below the threshold the plain conv runs; from it up 16 instead of 36 multiply-adds per coarse pixel
        # and channel pair, plus the kernel's fold (9 x 16 per pair).
        assert ratio == (1.0 if size < FOLD_FROM else pytest.approx((16 * size**2 + 144) / (36 * size**2)))
