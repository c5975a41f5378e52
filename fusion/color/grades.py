"""Random color grades: what a plate's grade may have done to the footage a model was trained on.

A grade is exposure (up to 0.8 stops either way, a gain in linear light, as
a stop is defined: the sRGB-encoded values are decoded, scaled by 2**stops and
encoded again), white balance (red and blue gains up to 25%), saturation (0.5
to 1.5), gamma (0.7 to 1.4) and a smooth tone curve (a blend of the identity
with a smoothstep S-curve, up to 80% towards it or 50% away from it; monotonic
throughout), in that order; all but exposure on the sRGB-encoded values in
[0, 1]. Each sample in a batch draws its own.
"""

from dataclasses import dataclass

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

#: Rec. 709 luma weights, for saturation
LUMA = (0.2126, 0.7152, 0.0722)


def expose(image: torch.Tensor, stops: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB-encoded values with each sample's exposure changed by its (B,) `stops`, in linear light.

    >>> mid_grey = torch.full((1, 3, 1, 1), 0.5)  # 0.214 in linear light
    >>> round(expose(mid_grey, torch.tensor([1.0]))[0, 0, 0, 0].item(), 3)  # 0.428, twice; a gain on 0.5 gave 1.0
    0.686
    """
    return linear_rgb_to_rgb(rgb_to_linear_rgb(image) * 2 ** stops.view(-1, 1, 1, 1))


@dataclass
class Grade:
    """One grade per sample: (B,) exposure stops, (B, 3) channel gains, (B,) saturation, gamma and curve blend."""

    stops: torch.Tensor
    gains: torch.Tensor
    saturation: torch.Tensor
    gamma: torch.Tensor
    curve: torch.Tensor

    @classmethod
    def random(cls, count: int, generator: torch.Generator, identity_share: float = 0.0) -> "Grade":
        """`count` random grades; a share `identity_share` of them change nothing."""
        u = lambda low, high, *shape: low + (high - low) * torch.rand(count, *shape, generator=generator)  # noqa: E731
        gains = torch.stack([u(0.8, 1.25), torch.ones(count), u(0.8, 1.25)], 1)
        grade = cls(u(-0.8, 0.8), gains, u(0.5, 1.5), u(0.7, 1.4), u(-0.5, 0.8))
        keep = torch.rand(count, generator=generator) < identity_share
        return grade.where(~keep)

    @classmethod
    def none(cls, count: int) -> "Grade":
        """`count` grades that change nothing."""
        return cls(torch.zeros(count), torch.ones(count, 3), torch.ones(count), torch.ones(count), torch.zeros(count))

    def where(self, graded: torch.Tensor) -> "Grade":
        """This grade where `graded` (B,) is true, none elsewhere."""
        plain = Grade.none(len(graded))
        pick = lambda a, b: torch.where(graded.view(-1, *[1] * (a.ndim - 1)), a, b)  # noqa: E731
        fields = ("stops", "gains", "saturation", "gamma", "curve")
        return Grade(*(pick(getattr(self, k), getattr(plain, k)) for k in fields))

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] graded, each sample by its own grade.

        >>> image = torch.rand(2, 3, 4, 4)
        >>> torch.allclose(Grade.none(2)(image), image, atol=1e-6)
        True
        """
        view = lambda t: t.view(-1, 1, 1, 1)  # noqa: E731
        x = expose(image, self.stops) * self.gains[..., None, None]
        luma = (x * torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (luma + view(self.saturation) * (x - luma)).clamp(0, 1)
        x = x ** view(self.gamma)
        s = x * x * (3 - 2 * x)
        return ((1 - view(self.curve)) * x + view(self.curve) * s).clamp(0, 1)


#: A fixed grade for measurements: a third of a stop down, warm, desaturated, a slight S-curve.
WARM = Grade(torch.tensor([-0.3]), torch.tensor([[1.15, 1.0, 0.85]]), torch.tensor([0.8]), torch.tensor([1.1]),
             torch.tensor([0.4]))
