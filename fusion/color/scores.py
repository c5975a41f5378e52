"""Color error: CIEDE2000 (scikit-image) between faces inside their masks, per pixel or between mean colors."""

import torch
from kornia.color import rgb_to_lab
from skimage.color import deltaE_ciede2000


def delta_e(faces: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean CIEDE2000 over the pixels where (B, 1, H, W) `mask` > 0.5 of (B, 3, H, W) faces in [0, 1] against `truth`.

    >>> face = torch.full((1, 3, 4, 4), 0.5)
    >>> delta_e(face, face, torch.ones(1, 1, 4, 4)), round(delta_e(face, face * 0.9, torch.ones(1, 1, 4, 4)), 1)
    (0.0, 5.0)
    """
    as_lab = lambda images: rgb_to_lab(images.clamp(0, 1).float()).permute(0, 2, 3, 1).numpy()  # noqa: E731
    inside = (mask[:, 0] > 0.5).numpy()
    return float(deltaE_ciede2000(as_lab(faces)[inside], as_lab(truth)[inside]).mean())


def mean_color_error(faces: torch.Tensor, plates: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) CIEDE2000 between the mean Lab color inside the mask of each face and of its plate: the overall
    cast, not the features (a swap's face is another person's).

    >>> plate = torch.full((2, 3, 4, 4), 0.5)
    >>> [round(e, 1) for e in mean_color_error(plate * torch.tensor([1.0, 0.9]).view(2, 1, 1, 1), plate,
    ...                                        torch.ones(2, 1, 4, 4)).tolist()]
    [0.0, 5.0]
    """
    weight = mask / mask.sum((2, 3), keepdim=True).clamp_min(1e-6)
    mean_lab = lambda images: (rgb_to_lab(images.clamp(0, 1).float()) * weight).sum((2, 3))  # noqa: E731
    return torch.from_numpy(deltaE_ciede2000(mean_lab(faces).numpy(), mean_lab(plates).numpy())).float()
