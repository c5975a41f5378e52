"""fusion.blend: pyramids against OpenCV, the blend's guarantees, contrast alignment, gradients, dtypes."""

import cv2
import kornia
import matplotlib.cbook as cbook
import numpy as np
import pytest
import scipy.ndimage
import torch

import fusion.blend.contrast
import fusion.blend.multiband
from fusion.blend import (
    MultiBandBlend,
    collapse_laplacian,
    contrast_gain,
    detail_contrast_gain,
    erode_mask,
    gaussian_pyramid,
    laplacian_pyramid,
    leak_radius,
    multiband_blend,
    pyr_down,
    pyr_up,
)
from fusion.blend.opencv import uses_opencv
from fusion.blend.pyramid import pyr_up_even, pyr_up_window

ODD = (250, 187)


def smooth_images(batch, height, width, detail=0.03, seed=0, dtype=torch.float32):
    """Photo-like test images: a smooth random field plus fine noise, in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 5, generator=generator, dtype=torch.float64)
    base = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    noise = detail * torch.randn(batch, 3, height, width, generator=generator, dtype=torch.float64)
    return (0.6 * base + 0.2 + noise).clamp(0, 1).to(dtype)


def ellipse_mask(batch, height, width, feather=0.0, dtype=torch.float32):
    """An ellipse over the middle of the image; with `feather` a linear ramp inward, exactly 0 outside."""
    yy, xx = torch.meshgrid(
        torch.linspace(-1, 1, height, dtype=torch.float64), torch.linspace(-1, 1, width, dtype=torch.float64), indexing="ij"
    )
    radius = ((yy / 0.75) ** 2 + (xx / 0.6) ** 2).sqrt()
    mask = ((1 - radius) / feather).clamp(0, 1) if feather else (radius < 1).double()
    return mask.expand(batch, 1, height, width).to(dtype).contiguous()


def to_hwc(x):
    return x.permute(1, 2, 0).numpy()


# Pyramids


@pytest.mark.parametrize("size", [ODD, (9, 13), (16, 16), (3, 4)])
def test_pyr_down_and_pyr_up_equal_opencv(size):
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    down = pyr_down(x)
    up = pyr_up(down, size)
    for i in range(2):
        np.testing.assert_allclose(to_hwc(down[i]), cv2.pyrDown(to_hwc(x[i])), atol=1e-12)
        np.testing.assert_allclose(to_hwc(up[i]), cv2.pyrUp(to_hwc(down[i]), dstsize=size[::-1]), atol=1e-12)


def test_laplacian_pyramid_equals_opencv_and_collapses_back():
    x = torch.rand(1, 3, *ODD, dtype=torch.float64)
    pyramid = laplacian_pyramid(x, 4)
    assert [tuple(p.shape[-2:]) for p in pyramid] == [(250, 187), (125, 94), (63, 47), (32, 24)]
    gaussian = [to_hwc(x[0])]
    for _ in range(3):
        gaussian.append(cv2.pyrDown(gaussian[-1]))
    for band, fine, coarse in zip(pyramid, gaussian, gaussian[1:]):
        np.testing.assert_allclose(to_hwc(band[0]), fine - cv2.pyrUp(coarse, dstsize=fine.shape[1::-1]), atol=1e-12)
    torch.testing.assert_close(collapse_laplacian(pyramid), x, atol=1e-12, rtol=0)


@pytest.mark.parametrize("size", [ODD, (16, 16), (3, 4)])
def test_no_grad_opencv_path_equals_the_differentiable_one(size):
    """Float32 with no gradient resamples through OpenCV; with a gradient, through torch: same numbers."""
    # Seeded: a random mask eroded to a few pixels can leave a band's contrast gain so ill-conditioned
    # that the two resamplers' last-bit differences grow to ~3e-3 there (seen once in a full run).
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size)
    assert uses_opencv(x) and not uses_opencv(x.clone().requires_grad_())
    with torch.no_grad():
        assert uses_opencv(x.clone().requires_grad_())
    traced = x.clone().requires_grad_()
    torch.testing.assert_close(pyr_down(x), pyr_down(traced).detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(pyr_up(x, (2 * size[0] - 1, 2 * size[1])),
                               pyr_up(traced, (2 * size[0] - 1, 2 * size[1])).detach(), atol=1e-6, rtol=0)
    if min(size) >= 16:
        mask = (torch.rand(2, 1, *size) > 0.3).float()
        template = torch.rand(2, 3, *size)
        torch.testing.assert_close(multiband_blend(x, template, mask), multiband_blend(traced, template, mask).detach(),
                                   atol=1e-5, rtol=0)


def test_pyramid_input_errors():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pyr_down(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="too many"):
        gaussian_pyramid(torch.rand(1, 1, 16, 16), 5)
    with pytest.raises(ValueError, match="or one less"):
        pyr_up(torch.rand(1, 1, 8, 8), (20, 16))


@pytest.mark.parametrize("radius", [1, 3, 7, 12, 40])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])  # float32: OpenCV up to radius 16
def test_erode_mask_is_a_square_minimum_filter(radius, dtype):
    """The window's minimum, the border never counting (40 reaches past every side)."""
    mask = torch.rand(2, 1, 31, 24, dtype=dtype)
    expected = scipy.ndimage.grey_erosion(mask.numpy(), size=(1, 1, 2 * radius + 1, 2 * radius + 1), mode="nearest")
    np.testing.assert_array_equal(erode_mask(mask, radius).numpy(), expected)


# The blend's guarantees


def test_blending_an_image_into_itself_returns_it():
    x = smooth_images(2, *ODD)
    mask = ellipse_mask(2, *ODD, feather=0.3)
    torch.testing.assert_close(multiband_blend(x, x, mask), x, atol=1e-6, rtol=0)


def test_all_zero_mask_returns_the_template():
    source, template = smooth_images(2, *ODD, seed=1), smooth_images(2, *ODD, seed=2)
    assert torch.equal(multiband_blend(source, template, torch.zeros(2, 1, *ODD)), template)


@pytest.mark.parametrize("feather", [0.0, 0.3])
@pytest.mark.parametrize("match_contrast", [False, True])
def test_nothing_leaks_outside_the_mask(feather, match_contrast):
    source, template = smooth_images(2, *ODD, seed=1), smooth_images(2, *ODD, seed=2)
    mask = ellipse_mask(2, *ODD, feather=feather)
    out = multiband_blend(source, template, mask, match_contrast=match_contrast)
    outside = (mask == 0).expand_as(out)
    assert (out - template)[outside].abs().max() < 1e-6
    inside = (erode_mask(mask, leak_radius(2) + 8) == 1).expand_as(out)
    assert (out - template)[inside].abs().mean() > 0.02  # the face did arrive


@pytest.mark.parametrize(("levels", "keep_coarse"), [(3, 2), (4, 2), (5, 2), (4, 0), (5, 1)])
def test_leak_radius_is_exactly_how_far_an_uneroded_blend_spreads(levels, keep_coarse):
    size = (61, 47)
    source, template = smooth_images(1, *size, seed=1, dtype=torch.float64), smooth_images(1, *size, seed=2, dtype=torch.float64)
    mask = torch.zeros(1, 1, *size, dtype=torch.float64)
    mask[..., 30, 20] = 1
    out = multiband_blend(source, template, mask, levels=levels, keep_coarse=keep_coarse, erode=0)
    changed = ((out - template).abs() > 1e-12).any(1)[0].nonzero()
    spread = int(max((changed[:, 0] - 30).abs().max(), (changed[:, 1] - 20).abs().max()))
    assert spread == leak_radius(levels - keep_coarse)


def test_all_one_mask_takes_fine_bands_from_source_and_coarse_levels_from_template():
    # levels=5, keep_coarse=2: bands 0-2 come from the source, so the result is
    # the source minus its 3-octave low-pass plus the template's (OpenCV's).
    source, template = smooth_images(1, *ODD, seed=1, dtype=torch.float64), smooth_images(1, *ODD, seed=2, dtype=torch.float64)
    out = multiband_blend(source, template, torch.ones(1, 1, *ODD, dtype=torch.float64), levels=5, match_contrast=False)

    def lowpass(image):
        sizes, x = [], to_hwc(image[0])
        for _ in range(3):
            sizes.append(x.shape[1::-1])
            x = cv2.pyrDown(x)
        for size in reversed(sizes):
            x = cv2.pyrUp(x, dstsize=size)
        return x

    expected = to_hwc(source[0]) - lowpass(source) + lowpass(template)
    np.testing.assert_allclose(to_hwc(out[0]), expected, atol=1e-12)


def test_contrast_alignment_brings_doubled_detail_back_to_the_template():
    size = (128, 128)
    smooth = smooth_images(1, *size, detail=0.0, seed=3)
    noise = 0.03 * torch.randn(2, 1, 3, *size, generator=torch.Generator().manual_seed(4))
    template, source = smooth + noise[0], smooth + 2 * noise[1]
    mask = ellipse_mask(1, *size)
    core = erode_mask(mask, leak_radius(2) + 6).bool().expand_as(source)

    def detail(x):
        return (x - kornia.filters.gaussian_blur2d(x, (9, 9), (2.0, 2.0)))[core].std()

    aligned = detail(multiband_blend(source, template, mask)) / detail(template)
    unaligned = detail(multiband_blend(source, template, mask, match_contrast=False)) / detail(template)
    assert abs(aligned - 1) < 0.1
    assert unaligned > 1.8


@pytest.mark.parametrize("float64", [False, True])  # the OpenCV path and the torch one
def test_contrast_matching_never_raises_the_bands_a_warped_up_source_does_not_resolve(float64):
    # A face decoded at a quarter of the plate's resolution and warped up: its two finest bands hold only
    # interpolation residue, which raised to the plate's detail comes out as a grid of streaks.
    dtype = torch.float64 if float64 else torch.float32
    size = (160, 160)
    template = smooth_images(1, *size, detail=0.05, seed=3, dtype=dtype)
    small = torch.nn.functional.interpolate(template, scale_factor=0.25, mode="area")
    source = torch.nn.functional.interpolate(small, size=size, mode="bicubic", align_corners=False)
    mask = ellipse_mask(1, *size)
    core = erode_mask(mask, 12).bool().expand_as(source)

    def finest(x):
        return (x - kornia.filters.gaussian_blur2d(x, (5, 5), (1.0, 1.0)))[core].std()

    raised = finest(multiband_blend(source, template, mask, levels=6, erode=0))
    kept = finest(multiband_blend(source, template, mask, levels=6, erode=0, source_scale=4))
    assert raised > 2.5 * finest(source)
    assert kept < 1.05 * finest(source)
    assert kept == pytest.approx(finest(multiband_blend(source, template, mask, levels=6, erode=0,
                                                        match_contrast=False)), rel=0.05)


def test_source_scale_must_be_positive():
    with pytest.raises(ValueError, match="source_scale"):
        multiband_blend(*smooth_images(2, 32, 32).split(1), ellipse_mask(1, 32, 32), source_scale=0)


def test_contrast_gain_is_neutral_without_weight_and_clamped():
    x = torch.randn(2, 3, 16, 16)
    gain, offset = contrast_gain(x, 3 * x, torch.zeros(2, 1, 16, 16))
    assert torch.equal(gain, torch.ones(2, 3, 1, 1)) and torch.equal(offset, torch.zeros(2, 3, 1, 1))
    gain, _ = contrast_gain(x, 100 * x, torch.ones(2, 1, 16, 16), max_gain=4.0)
    assert torch.equal(gain, torch.full((2, 3, 1, 1), 4.0))


@pytest.mark.parametrize("size", [(37, 30), (64, 64)])
def test_detail_contrast_gain_numpy_path_equals_the_torch_one(size, monkeypatch):
    generator = torch.Generator().manual_seed(5)
    source, noise = torch.rand(2, 2, 3, *size, generator=generator)
    template = 1.5 * source + 0.2 * noise
    coarse_source, coarse_template = pyr_up_even(pyr_down(source)), pyr_up_even(pyr_down(template))
    weight = torch.rand(2, 1, *size, generator=generator)
    weight[1] = 0
    numpy_calls = []
    numpy_path = fusion.blend.contrast._numpy_detail_gain
    monkeypatch.setattr(fusion.blend.contrast, "_numpy_detail_gain", lambda *a: numpy_calls.append(1) or numpy_path(*a))
    with torch.no_grad():
        gain, offset = detail_contrast_gain(source, coarse_source, template, coarse_template, weight)
    expected_gain, expected_offset = detail_contrast_gain(
        source.requires_grad_(), coarse_source, template, coarse_template, weight
    )
    assert numpy_calls == [1]
    torch.testing.assert_close(gain, expected_gain.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(offset, expected_offset.detach(), rtol=1e-5, atol=1e-7)
    assert 1.4 < gain[0].min() < gain[0].max() < 1.7  # the template's detail is ~1.5x the source's
    assert torch.equal(gain[1], torch.ones(3, 1, 1)) and torch.equal(offset[1], torch.zeros(3, 1, 1))


@pytest.mark.parametrize(("scale", "level"), [(2, 1), (4, 2)])
def test_detail_gain_is_the_laplacian_bands_gain_on_a_real_face(scale, level):
    """At the first band a face warped up by `scale` resolves, the gain taken on a quarter of the samples is the
    gain that matches the whole Laplacian band the blend scales (what pyr_down alone removes read 6-7% higher)."""
    photo = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))[..., ::-1].astype(np.float32) / 255
    height, width = photo.shape[:2]
    small = cv2.resize(photo, (width // scale, height // scale), interpolation=cv2.INTER_AREA)
    blurred = cv2.resize(small, (width, height))
    face = np.zeros((height, width), np.float32)
    cv2.ellipse(face, (width // 2, int(height * 0.42)), (int(width * 0.2), int(height * 0.25)), 0, 0, 360, 1, -1)
    as_tensor = lambda a: torch.from_numpy(a.reshape(height, width, -1).copy()).permute(2, 0, 1)[None]  # noqa: E731
    source, template, weight = (gaussian_pyramid(as_tensor(x), level + 2) for x in (blurred, photo, face))
    band = lambda g: g[level] - pyr_up(g[level + 1], g[level].shape[-2:])  # noqa: E731
    whole, _ = contrast_gain(band(source), band(template), weight[level], max_gain=10)
    quarter, _ = detail_contrast_gain(source[level], pyr_up_even(source[level + 1]), template[level],
                                      pyr_up_even(template[level + 1]), weight[level], max_gain=10)
    assert 1.1 < whole.min()
    torch.testing.assert_close(quarter, whole, rtol=0.02, atol=0)


# Gradients, dtypes, batching


@pytest.mark.parametrize("keep_coarse", [0, 1])
def test_gradcheck(keep_coarse):
    generator = torch.Generator().manual_seed(5)
    source, template = torch.rand(2, 1, 2, 12, 10, dtype=torch.float64, generator=generator)
    mask = torch.rand(1, 1, 12, 10, dtype=torch.float64, generator=generator)
    inputs = [t.requires_grad_() for t in (source, template, mask)]

    def blend(s, t, m):
        return multiband_blend(s, t, m, levels=3, keep_coarse=keep_coarse, erode=1)

    assert torch.autograd.gradcheck(blend, inputs, fast_mode=True)


@pytest.mark.parametrize(("dtype", "max_error", "mean_error"), [(torch.bfloat16, 0.03, 2e-3), (torch.float16, 4e-3, 3e-4)])
def test_low_precision_agrees_with_float32(dtype, max_error, mean_error):
    source, template = smooth_images(2, *ODD, seed=1), smooth_images(2, *ODD, seed=2)
    mask = ellipse_mask(2, *ODD, feather=0.2)
    reference = multiband_blend(source, template, mask)
    out = multiband_blend(source.to(dtype), template.to(dtype), mask.to(dtype))
    assert out.dtype == dtype
    error = (out.float() - reference).abs()
    assert error.max() < max_error and error.mean() < mean_error


def test_cpu_chunking_does_not_change_the_result(monkeypatch):
    source, template = smooth_images(3, 64, 48, seed=1), smooth_images(3, 64, 48, seed=2)
    mask = ellipse_mask(3, 64, 48, feather=0.3)
    whole = multiband_blend(source, template, mask)
    monkeypatch.setattr(fusion.blend.multiband, "_CPU_CHUNK_ELEMENTS", 1)
    torch.testing.assert_close(multiband_blend(source, template, mask), whole, atol=1e-6, rtol=0)
    traced = source.clone().requires_grad_()
    torch.testing.assert_close(multiband_blend(traced, template, mask).detach(), whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("erode", [None, 0, 5])
@pytest.mark.parametrize("match_contrast", [False, True])
@pytest.mark.parametrize("coarse_windows", [False, True])
def test_blending_inside_the_masks_windows_changes_nothing(monkeypatch, erode, match_contrast, coarse_windows):
    # Without autograd on large images the coarse levels too are blended in windows: forced here on a small one.
    size = (97, 83)
    source, template = smooth_images(2, *size, seed=1), smooth_images(2, *size, seed=2)
    mask = torch.zeros(2, 1, *size)
    mask[0, :, 31:60, 27:50] = 1  # an odd-placed box, a soft blob and a stray pixel in the other image
    mask[1, :, 40:70, 40:66] = ellipse_mask(1, 30, 26, feather=0.5)[0]
    mask[1, :, 75, 29] = 0.7
    assert fusion.blend.multiband.mask_box(mask) == (30, 26, 46, 34)  # rows 31-75, columns 27-59
    if coarse_windows:
        monkeypatch.setattr(fusion.blend.multiband, "_COARSE_WINDOWS_FROM", 0)
    options = {"erode": erode, "match_contrast": match_contrast}
    windowed = {grad: multiband_blend(source.clone().requires_grad_(grad), template, mask, **options) for grad in (False, True)}
    monkeypatch.setattr(fusion.blend.multiband, "_WINDOW_SHARE", 0.0)  # the whole image, as before windows
    monkeypatch.setattr(fusion.blend.multiband, "_COARSE_WINDOWS_FROM", 2**62)
    whole = multiband_blend(source, template, mask, **options)
    for out in windowed.values():
        torch.testing.assert_close(out.detach(), whole, atol=2e-6, rtol=0)
    assert not torch.equal(whole, template)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("size", [(64, 48), (384, 352)])  # the larger blends its coarse levels in windows too
def test_an_images_blend_does_not_depend_on_its_batch(grad, size):
    # What lands in each image must not depend on the rest of the batch, to the last bit (evaluate's batching).
    height, width = size
    source, template = smooth_images(3, height, width, seed=1), smooth_images(3, height, width, seed=2)
    mask = torch.zeros(3, 1, height, width)
    mask[0, :, height // 6:height // 2, width // 6:width * 5 // 12] = 1
    mask[1, :, height // 2:height * 15 // 16, width * 5 // 12:width * 11 // 12] = 1  # and no face in the third
    source.requires_grad_(grad)
    together = multiband_blend(source, template, mask)
    for i in range(3):
        assert torch.equal(together[i:i + 1], multiband_blend(source[i:i + 1], template[i:i + 1], mask[i:i + 1]))
    assert torch.equal(together[2], template[2]) and not torch.equal(together[0], template[0])


def test_pyr_up_window_is_the_window_of_pyr_up():
    coarse = smooth_images(1, 31, 24, seed=3)
    for size in ((61, 47), (62, 48)):
        full = pyr_up(coarse, size)
        for top, left, height, width in ((0, 0, *size), (2, 4, 9, 11), (10, 20, size[0] - 10, size[1] - 20), (0, 6, 3, 3)):
            torch.testing.assert_close(pyr_up_window(coarse, size, top, left, height, width),
                                       full[..., top:top + height, left:left + width], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="even top and left"):
        pyr_up_window(coarse, (61, 47), 1, 0, 4, 4)


def test_channels_last_inputs_give_the_same_blend():
    # The decoder's output is channels_last.
    source, template = smooth_images(2, *ODD, seed=1), smooth_images(2, *ODD, seed=2)
    mask = ellipse_mask(2, *ODD, feather=0.3)
    expected = multiband_blend(source, template, mask)
    channels_last = [x.contiguous(memory_format=torch.channels_last) for x in (source, template, mask)]
    torch.testing.assert_close(multiband_blend(*channels_last), expected, atol=1e-6, rtol=0)


def test_module_is_the_function():
    source, template = smooth_images(2, *ODD, seed=1), smooth_images(2, *ODD, seed=2)
    mask = ellipse_mask(2, *ODD)
    module = MultiBandBlend(levels=4, keep_coarse=1, erode=6, match_contrast=False)
    expected = multiband_blend(source, template, mask, levels=4, keep_coarse=1, erode=6, match_contrast=False)
    assert torch.equal(module(source, template, mask), expected)
    assert "keep_coarse=1" in repr(module)


@pytest.mark.parametrize(
    ("source", "template", "mask", "options", "message"),
    [
        ((3, 32, 32), (3, 32, 32), (1, 32, 32), {}, r"source must have shape \(B, C, H, W\)"),
        ((1, 3, 32, 32), (1, 3, 32, 31), (1, 1, 32, 32), {}, r"template must have shape .* \(W is 32 and 31\)"),
        ((1, 3, 32, 32), (1, 3, 32, 32), (1, 3, 32, 32), {}, r"mask must have shape \(B, 1, H, W\), got \(1, 3, 32, 32\)"),
        ((2, 3, 32, 32), (2, 3, 32, 32), (1, 1, 32, 32), {}, r"mask must have shape .* \(B is 2 and 1\)"),
        ((1, 3, 32, 32), (1, 3, 32, 32), (1, 1, 32, 32), {"levels": 2}, "keep_coarse < levels"),
        ((1, 3, 32, 32), (1, 3, 32, 32), (1, 1, 32, 32), {"levels": 9}, "too many"),
    ],
)
def test_shape_errors(source, template, mask, options, message):
    with pytest.raises(ValueError, match=message):
        multiband_blend(torch.rand(source), torch.rand(template), torch.rand(mask), **options)


def test_dtype_errors():
    with pytest.raises(ValueError, match="one float dtype"):
        multiband_blend(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16).double(), torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="float tensor in"):
        multiband_blend(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.full((1, 1, 16, 16), 255, dtype=torch.uint8))
